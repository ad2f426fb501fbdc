"""SSIM with scikit-image's ``structural_similarity`` defaults, in torch (GPU-capable).

Spec ``gyrodeblurnet.md`` §6.2 (test.py calls ``structural_similarity(channel_axis=2)`` on uint8):
Wang et al., "Image quality assessment: from error visibility to structural similarity", IEEE TIP 2004, eq. 13,
with scikit-image's defaults, which differ from the Gaussian-window MATLAB reference:

- 7x7 **uniform** window, local means ``mu``; sample covariance (``use_sample_covariance=True``): local variances
  and covariance multiplied by ``NP / (NP - 1)`` with ``NP = 49``;
- ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L`` = data range (255 for uint8);
- the SSIM map is cropped by ``(7 - 1) // 2 = 3`` px on every side before averaging, which is exactly the set of
  "valid" window positions, so a valid (unpadded) 7x7 average pool gives the cropped map directly;
- per-channel mean, then mean over channels (equal pixel counts, so the mean over all map values).

Arithmetic in float64. Images smaller than 7x7 raise :class:`~gyrobench.errors.ShapeError`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ShapeError
from .registry import Metric, register_metric

__all__ = ["SSIM", "ssim"]


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 255.0, win_size: int = 7,
         K1: float = 0.01, K2: float = 0.03) -> torch.Tensor:
    """Mean SSIM per image: ``(N, C, H, W)`` -> ``(N,)`` float64 (scikit-image defaults, see module doc)."""
    if pred.shape[-1] < win_size or pred.shape[-2] < win_size:
        raise ShapeError(f"ssim: image {tuple(pred.shape[-2:])} is smaller than the {win_size}x{win_size} "
                         "window; use images of at least 7x7 pixels")
    x = pred.to(torch.float64)
    y = target.to(torch.float64)
    n, c, h, w = x.shape
    # stack the five local moments and filter them in one pass: (5N, C, H, W) -> valid 7x7 mean
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=0)
    # separable box mean: 1x7 then 7x1 (14 operations per pixel instead of 49; identical up to float64 rounding)
    m = F.avg_pool2d(stack.reshape(5 * n * c, 1, h, w), (1, win_size), stride=1)
    m = F.avg_pool2d(m, (win_size, 1), stride=1).reshape(5, n, c, h - win_size + 1, w - win_size + 1)
    ux, uy, uxx, uyy, uxy = m
    np_ = win_size * win_size
    cov_norm = np_ / (np_ - 1.0)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(2).mean(dim=2).mean(dim=1)


@register_metric
class SSIM(Metric):
    """Structural similarity, scikit-image defaults (higher is better)."""

    name = "ssim"
    lower_better = False
    full_reference = True
    citation = ("Wang, Bovik, Sheikh, Simoncelli, 'Image quality assessment: from error visibility to "
                "structural similarity', IEEE TIP 13(4), 2004; scikit-image structural_similarity defaults")

    def score(self, pred8, target8):
        return ssim(pred8, target8, self.protocol.data_range)
