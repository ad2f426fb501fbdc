"""PSNR as scikit-image's ``peak_signal_noise_ratio`` computes it, in torch (GPU-capable).

Spec ``gyrodeblurnet.md`` §6.2: one MSE per image pooled over all pixels **and** all channels, data range 255
(uint8), no border crop; the reported figure is the mean of per-image PSNRs. Inputs are encoded by the protocol
(:mod:`gyrobench.metrics.protocols`); arithmetic is float64. Identical images give ``+inf`` (as scikit-image).
"""

from __future__ import annotations

import torch

from .registry import Metric, register_metric

__all__ = ["PSNR", "psnr"]


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """``10 log10(data_range^2 / MSE)`` per image; ``(N, C, H, W)`` -> ``(N,)`` float64."""
    diff = pred.to(torch.float64) - target.to(torch.float64)
    mse = diff.square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10((data_range**2) / mse)


@register_metric
class PSNR(Metric):
    """Peak signal-to-noise ratio in dB (higher is better)."""

    name = "psnr"
    lower_better = False
    full_reference = True
    citation = "scikit-image peak_signal_noise_ratio (van der Walt et al., PeerJ 2014)"

    def score(self, pred8, target8):
        return psnr(pred8, target8, self.protocol.data_range)
