"""Padding helpers shared by the U-Net models (one place for the padding rules).

NAFNet (baselines.md §2.2) and GyroDeblurNet (gyrodeblurnet.md §5.1, §9.9) zero-pad the image on the bottom and
right to a multiple of 2^levels, run, and crop the output back to the input's H×W.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pad_to_multiple", "crop_to", "padded_size"]


def padded_size(h: int, w: int, multiple: int) -> tuple[int, int]:
    """``(⌈h/multiple⌉·multiple, ⌈w/multiple⌉·multiple)``."""
    return -(-h // multiple) * multiple, -(-w // multiple) * multiple


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "constant", value: float = 0.0):
    """Pad ``x`` (…, H, W) on the bottom/right so H and W become multiples of ``multiple``.

    Returns ``(padded, (H, W))`` where ``(H, W)`` is the original size for :func:`crop_to`.
    ``mode`` is a ``torch.nn.functional.pad`` mode: ``"constant"`` (zeros, the official rule for images) or
    ``"replicate"`` (edge replication, used by gyrobench for motion fields).
    """
    h, w = x.shape[-2:]
    hp, wp = padded_size(h, w, multiple)
    if (hp, wp) == (h, w):
        return x, (h, w)
    pad = (0, wp - w, 0, hp - h)
    if mode == "constant":
        return F.pad(x, pad, mode="constant", value=value), (h, w)
    return F.pad(x, pad, mode=mode), (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop ``x`` (…, H', W') to the top-left ``size = (H, W)``."""
    return x[..., : size[0], : size[1]]
