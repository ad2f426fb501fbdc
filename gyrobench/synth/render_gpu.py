"""Batched blur rendering and degradation on an accelerator (issue 11 item 2): several images per call.

:func:`render_blur_batch` renders B frames whose pose counts differ (adaptive sub-steps: 81..201 poses for
GyroBlur-Synth windows) in one :func:`gyrobench.synth.blur.render_blur` call: the pose lists are padded to the
longest with the identity and the padded poses get weight 0, so every image is still the equal-weight average
of its own poses (``1 / P_i``). :func:`degrade_batch` applies a preset to the batch with one draw per sample
(each from the sample's own generator, so a sample's result does not depend on its batch), on the same device:
frames go up once, and only the stored outputs come back.

Conventions as :mod:`gyrobench.synth.blur`: frames (B, 3, H, W) float32 linear CHW, homographies anchor -> pose
in full-frame pixels, crop ``(x0, y0, w, h)``. Runs on any torch device (tests use ``cpu``).
"""

from __future__ import annotations

import numpy as np
import torch

from gyrobench.errors import ShapeError
from gyrobench.synth.blur import render_blur
from gyrobench.synth.degrade import Degradation, DegradationDraw

__all__ = ["render_blur_batch", "degrade_batch", "pad_poses"]


def pad_poses(homs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(B, Pmax, 3, 3) homographies padded with the identity and (B, Pmax) weights ``1/P_i`` (0 on padding)."""
    if not homs:
        raise ShapeError("render_blur_batch: no pose list given")
    pmax = max(len(h) for h in homs)
    H = np.tile(np.eye(3), (len(homs), pmax, 1, 1))
    W = np.zeros((len(homs), pmax))
    for i, h in enumerate(homs):
        h = np.asarray(h, dtype=np.float64)
        if h.ndim != 3 or h.shape[1:] != (3, 3) or len(h) < 1:
            raise ShapeError(f"render_blur_batch: pose list {i} must be (P, 3, 3), got {h.shape}")
        H[i, : len(h)] = h
        W[i, : len(h)] = 1.0 / len(h)
    return H, W


def render_blur_batch(frames: torch.Tensor, homs: list[np.ndarray], *, crop, sat_threshold: float | None = 1.0,
                      max_chunk_bytes: int | None = None) -> dict[str, torch.Tensor]:
    """Blur B frames with their own pose lists in one batched call (see module).

    ``frames``: (B, 3, H, W) float linear on the device; ``homs``: B arrays (P_i, 3, 3). ``max_chunk_bytes``:
    memory per chunk of poses (default 2 GiB on CUDA, 256 MiB elsewhere). Returns render_blur's dict
    (``blurred``, ``sharp``, ``valid``, ``sat_mask``), batched, on the device.

    Poses past ``P_i`` are the identity with weight 0: they are sampled but add exactly 0 (and the identity
    keeps the ``valid`` test unchanged).
    """
    if frames.dim() != 4 or frames.shape[0] != len(homs):
        raise ShapeError(f"render_blur_batch: frames must be (B,3,H,W) with B = {len(homs)} pose lists, "
                         f"got {tuple(frames.shape)}")
    H, W = pad_poses(homs)
    if max_chunk_bytes is None:
        max_chunk_bytes = (2 << 30) if frames.device.type == "cuda" else (256 << 20)
    return render_blur(frames, torch.from_numpy(H), crop=crop, weights=W, sat_threshold=sat_threshold,
                       max_chunk_bytes=max_chunk_bytes)


def degrade_batch(deg: Degradation, blurred: torch.Tensor, sat_mask: torch.Tensor | None,
                  generators: list) -> tuple[torch.Tensor, DegradationDraw]:
    """Degrade a batch with one draw per sample: sample i's scalars come from ``generators[i]`` (int seed,
    numpy Generator or SeedSequence-derived int), exactly as a batch of one would draw them."""
    if len(generators) != blurred.shape[0]:
        raise ShapeError(f"degrade_batch: {len(generators)} generators for a batch of {blurred.shape[0]}")
    draw = DegradationDraw.concat([deg.sample_draw(1, g) for g in generators])
    with torch.no_grad():
        out, draw = deg(blurred, sat_mask=sat_mask, draw=draw)
    return out, draw
