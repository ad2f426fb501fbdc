"""Synthetic captures: a packaged Kodak image blurred by the fitted hand-shake, seen by the demo camera.

For tests and demonstrations of the real-capture path (import, fields, time calibration, ``gyrobench infer``,
no-reference scoring) where no phone data is available. Everything about the capture is known:

- camera: the demo camera (500x500, fx = fy = 561.5 px, 48° HFOV; ``focal_scale`` multiplies fx and fy for a
  narrower field of view and so longer blur), gyro axes = camera axes (``R_imu_to_cam = I``);
- gyro: 3 s of the shipped hand-shake model (``docs/handshake.md``) at its fitted rate (~210 Hz), on a gyro
  clock starting at 1000 s; the photo clock is the gyro clock plus ``offset_ms``;
- the photo: exposure ``exposure_ms`` starting 1.5 s into the log, rolling-shutter readout ``readout_ms``,
  rendered in linear light (:func:`gyrobench.synth.blur.render_rolling_shutter`, border pixels replicated)
  and stored as 8-bit sRGB (``encoding="srgb"``, like a phone JPEG/PNG) or 16-bit linear PNG;
- ``capture.json`` stores the true offset, or zero with ``store_offset=False`` (the case the time calibration
  must solve); the truth is always in ``source.truth``. The record says ``"synthetic": true``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..assets import kodak_paths
from ..color import linear_to_srgb, srgb_to_linear
from ..gyro.camera import DEMO
from ..gyro.handshake import load_default_handshake
from ..gyro.recording import GyroRecording
from ..provenance import sha256_file
from ..synth.blur import render_rolling_shutter
from .format import Capture, read_image, write_capture

__all__ = ["make_synthetic_capture", "GYRO_T0_NS"]

GYRO_T0_NS = 1_000_000_000_000
_LOG_S = 3.0
_PHOTO_AT_S = 1.5


def make_synthetic_capture(out_dir: str | Path, *, image: int = 0, seed: int = 0, exposure_ms: float = 20.0,
                           readout_ms: float = 0.0, offset_ms: float = 0.0, store_offset: bool = True,
                           focal_scale: float = 1.0, encoding: str = "srgb", name: str | None = None) -> Path:
    """Write a synthetic capture folder (module docstring); returns it."""
    paths = kodak_paths()
    if not 0 <= image < len(paths):
        raise ValueError(f"image index {image} out of range 0..{len(paths) - 1} (packaged Kodak images)")
    src = paths[image]
    srgb, _ = read_image(src)
    sharp = torch.from_numpy(srgb_to_linear(srgb).astype(np.float32)).permute(2, 0, 1)[None]
    H, W = sharp.shape[-2:]
    K = DEMO.K.copy()
    K[0, 0] *= focal_scale
    K[1, 1] *= focal_scale
    model = load_default_handshake()
    n = int(_LOG_S * model.rate_hz)
    gyro = model.sample(n, seed=seed, t0_ns=GYRO_T0_NS)
    off_ns = int(round(offset_ms * 1e6))
    exp_ns = int(round(exposure_ms * 1e6))
    start_photo = GYRO_T0_NS + int(_PHOTO_AT_S * 1e9) + off_ns
    rec_photo = GyroRecording(gyro.t_ns + np.int64(off_ns), gyro.w, np.eye(3), gyro.source)
    out = render_rolling_shutter(sharp, rec_photo, start_photo, exp_ns, K, readout_time_s=readout_ms * 1e-3,
                                 frame_height=H)
    blurred = out["blurred"][0].permute(1, 2, 0).clamp(0, 1).numpy().astype(np.float64)
    if encoding == "srgb":
        arr = np.round(linear_to_srgb(blurred) * 255).astype(np.uint8)
    elif encoding == "linear":
        arr = np.round(blurred * 65535).astype(np.uint16)
    else:
        raise ValueError(f"encoding must be 'srgb' or 'linear', got {encoding!r}")
    truth = {"time_offset_ns": off_ns, "readout_time_s": readout_ms * 1e-3, "exposure_ns": exp_ns,
             "focal_scale": focal_scale, "hand_shake": gyro.source, "seed": seed}
    cap = Capture(image="", image_encoding=encoding, image_size=(W, H), gyro="", K=K.tolist(),
                  exposure_start_ns=start_photo, exposure_ns=exp_ns, R_imu_to_cam=np.eye(3).tolist(),
                  readout_time_s=readout_ms * 1e-3, time_offset_ns=off_ns if store_offset else 0,
                  name=name or Path(out_dir).name,
                  source={"importer": "synthetic", "synthetic": True, "truth": truth,
                          "sharp_image": src.name, "sharp_image_sha256": sha256_file(src),
                          "note": "SYNTHETIC capture: a Kodak image blurred by the fitted hand-shake model"})
    return write_capture(out_dir, cap, image_array=arr, gyro_t_ns=gyro.t_ns, gyro_w=gyro.w)
