"""What an evaluation writes besides its record: visual crops (8-bit sRGB display PNGs), restored images (16-bit
linear PNGs), and the per-image blur extent.

The record's and per-image CSV's ``blur_extent_px`` is :func:`field_path_length_px`: the path length of the
image-centre trajectory, the sum over the M segments of ``|(dx, dy)|`` of the **clean** field at the centre grid
point (full-resolution pixels): the blur that was actually rendered, whatever the gyro input. (The shards'
``blur_extent_px`` is :func:`gyrobench.synth.blur.pose_path_length_px`, the same path over every blur pose.)
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import torch

from ..color import linear_to_srgb
from ..errors import GyrobenchError

__all__ = ["field_path_length_px", "save_png", "centre_crop", "slug"]


def field_path_length_px(cmf: torch.Tensor, height: int, width: int) -> float:
    """Length in full-resolution pixels of the trajectory of the image centre.

    ``cmf`` (2M, hf, wf): channel pair m = (dx, dy) of segment m at grid point (row i, col j) = image pixel
    (2i, 2j). The centre pixel ``(height // 2, width // 2)`` rounded down to even -> grid ``(height // 4,
    width // 4)``. Returns ``sum_m sqrt(dx_m^2 + dy_m^2)``.
    """
    if cmf.ndim != 3 or cmf.shape[0] % 2:
        raise GyrobenchError(f"field_path_length_px: expected a (2M, h, w) field, got {tuple(cmf.shape)}")
    i = min((height // 2) // 2, cmf.shape[1] - 1)
    j = min((width // 2) // 2, cmf.shape[2] - 1)
    seg = cmf[:, i, j].to(torch.float64).reshape(-1, 2)
    return float(torch.linalg.vector_norm(seg, dim=1).sum())


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "sample"


def save_png(path: Path, chw: torch.Tensor, *, linear16: bool) -> None:
    """(3, H, W) linear [0, 1] -> PNG: 8-bit sRGB (display) or 16-bit linear."""
    x = chw.detach().to("cpu", torch.float64).clamp(0, 1)
    if linear16:
        arr = torch.round(x * 65535).to(torch.int32).numpy().astype(np.uint16)
    else:
        arr = torch.round(linear_to_srgb(x).to(torch.float64).clamp(0, 1) * 255).to(torch.uint8).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(arr.transpose(1, 2, 0)[:, :, ::-1])):
        raise GyrobenchError(f"{path}: cannot write PNG; check the output folder")


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s_h, s_w = min(size, h), min(size, w)
    y0, x0 = (h - s_h) // 2, (w - s_w) // 2
    return x[..., y0 : y0 + s_h, x0 : x0 + s_w]
