"""Image-quality metrics behind one registry (docs/conventions.md §7).

>>> import torch
>>> from gyrobench.metrics import create_metric
>>> psnr = create_metric("psnr", protocol="gyrodeblurnet_official")
>>> x = torch.full((1, 3, 8, 8), 0.5)
>>> round(float(psnr(x, x.clamp(max=0.49))), 2)   # 127 vs 124 after x255 truncation: 20 log10(255/3)
38.59

Names: ``psnr``, ``ssim`` (full-reference), ``niqe``, ``topiq_nr`` (no-reference). Protocols:
``gyrodeblurnet_official``, ``srgb8``, ``display8`` (:mod:`gyrobench.metrics.protocols`).
"""

from __future__ import annotations

from .metric_set import MetricSet
from .protocols import PROTOCOLS, Protocol, get_protocol
from .registry import Metric, MetricUnavailable, create_metric, list_metrics, register_metric

__all__ = ["PROTOCOLS", "Protocol", "get_protocol", "Metric", "MetricSet", "MetricUnavailable", "create_metric",
           "list_metrics", "register_metric"]
