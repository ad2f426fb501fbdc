"""Training loss of GyroDeblurNet (spec ``gyrodeblurnet.md`` §6.1).

PSNR loss = (10 / ln 10) · mean over the batch of ln(MSE_image + 1e-8), where MSE_image is the mean squared
error of one image over its channels and pixels, on linear images in [0, 1]. It is minimised; its value is
−PSNR in dB (averaged per image, up to the 1e-8 guard).
"""

from __future__ import annotations

import math

import torch

from ..errors import ShapeError

__all__ = ["psnr_loss", "batch_psnr"]

_SCALE = 10.0 / math.log(10.0)


def psnr_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """PSNR loss of spec §6.1. ``pred``, ``target``: (B, C, H, W) linear in [0, 1]; returns a scalar (dB)."""
    if pred.shape != target.shape or pred.ndim != 4:
        raise ShapeError(f"psnr_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} must be "
                         "equal (B, C, H, W) shapes")
    mse = (pred.float() - target.float()).pow(2).mean(dim=(1, 2, 3))
    return _SCALE * torch.log(mse + eps).mean()


@torch.no_grad()
def batch_psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-image PSNR in dB of clamped predictions (for progress bars and logs, data range 1)."""
    mse = (pred.detach().float().clamp(0, 1) - target.float()).pow(2).mean(dim=(1, 2, 3))
    return float((-_SCALE * torch.log(mse.clamp_min(1e-10))).mean())
