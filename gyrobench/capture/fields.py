"""A capture's photo in linear light and its motion fields (camera motion field and DeepGyro blur field).

- :func:`linear_photo`: the stored photo decoded to linear RGB (IEC 61966-2-1 sRGB curve when the capture's
  ``image_encoding`` is ``"srgb"``), with a record of how.
- :func:`capture_motion_field`: the camera motion field (``docs/gyro.md``) of the photo, rolling shutter
  included (:func:`gyrobench.gyro.rolling_shutter.exposure_motion_field`), over the image padded right/bottom to
  a multiple of ``pad_multiple`` (what the models expect), ``(2M, Hp/2, Wp/2)`` CHW float32 by default.
- :func:`capture_deepgyro_field`: DeepGyro's integer blur vectors at an output scale
  (:mod:`gyrobench.gyro.deepgyro_field`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..color import srgb_to_linear
from ..gyro.deepgyro_field import deepgyro_blur_vectors
from ..gyro.rolling_shutter import DEFAULT_WINDOW_SAMPLES, exposure_motion_field
from .calibration import scale_K
from .format import Capture, CaptureError, check_gyro_covers, read_image

__all__ = ["linear_photo", "capture_motion_field", "capture_deepgyro_field", "decoding_record"]


def decoding_record(cap: Capture, bits: int) -> dict:
    """How the stored photo became linear light (written into inference records)."""
    if cap.image_encoding == "srgb":
        how = "display-encoded photo decoded to linear light with the IEC 61966-2-1 sRGB curve (srgb_to_linear)"
    else:
        how = "stored as linear light: values used as they are"
    return {"image_encoding": cap.image_encoding, "bits": bits, "decoding": how, "scale": f"1/{2 ** bits - 1}"}


def linear_photo(cap: Capture, folder: str | Path) -> tuple[np.ndarray, dict]:
    """``(H, W, 3)`` float32 linear RGB in [0, 1] and :func:`decoding_record`."""
    img, bits = read_image(Path(folder) / cap.image)
    if img.shape[:2] != (cap.height, cap.width):
        raise CaptureError(f"{Path(folder) / cap.image}: image is {img.shape[1]}x{img.shape[0]} but capture.json says "
                           f"image_size {list(cap.image_size)}; fix image_size or re-import")
    lin = srgb_to_linear(img).astype(np.float32) if cap.image_encoding == "srgb" else img
    return np.ascontiguousarray(lin), decoding_record(cap, bits)


def capture_motion_field(cap: Capture, folder: str | Path, *, pad_multiple: int = 8, M: int = 8,
                         layout: str = "chw", readout_time_s: float | None = None,
                         time_offset_ns: int | None = None, samples: int = DEFAULT_WINDOW_SAMPLES,
                         rec=None, **cmf_kw) -> np.ndarray:
    """Camera motion field of the capture over the image padded to ``pad_multiple`` (module docstring).

    ``readout_time_s`` / ``time_offset_ns`` override the capture's values (used by the time calibration);
    ``rec`` reuses an already loaded recording on the **gyro** clock (``cap.recording`` applies the offset).
    """
    folder = Path(folder)
    if rec is None:
        rec = cap.recording(folder)
    if time_offset_ns is not None and time_offset_ns != cap.time_offset_ns:
        from ..gyro.recording import GyroRecording

        rec = GyroRecording(rec.t_ns + np.int64(time_offset_ns - cap.time_offset_ns), rec.w, rec.R_imu_to_cam,
                            rec.source)
    readout = cap.readout_time_s if readout_time_s is None else float(readout_time_s)
    check_gyro_covers(cap.replace(readout_time_s=readout), rec, str(folder / "capture.json"))
    m = max(1, int(pad_multiple))
    hp, wp = -(-cap.height // m) * m, -(-cap.width // m) * m
    return exposure_motion_field(rec, cap.exposure_start_ns, cap.exposure_ns, cap.K_matrix, crop=(0, 0, wp, hp),
                                 readout_time_s=readout, frame_height=cap.height, samples=samples, M=M,
                                 layout=layout, **cmf_kw)


def capture_deepgyro_field(cap: Capture, folder: str | Path, *, scale: float = 1.0) -> np.ndarray:
    """DeepGyro blur vectors ``(2, h, w)`` int16 at ``scale`` (h = round(H scale), K scaled to match)."""
    if not 0 < scale <= 1:
        raise CaptureError(f"--scale {scale}: give a factor in (0, 1] (DeepGyro's default is 0.5)")
    folder = Path(folder)
    h, w = int(round(cap.height * scale)), int(round(cap.width * scale))
    K = scale_K(cap.K_matrix, (cap.width, cap.height), (w, h))
    rec = cap.recording(folder)
    return deepgyro_blur_vectors(rec.t_ns, rec.w_cam, K, (h, w), cap.exposure_start_ns, cap.exposure_ns,
                                 cap.readout_time_s, source=str(folder / "capture.json"))
