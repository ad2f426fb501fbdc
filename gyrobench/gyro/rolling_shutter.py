"""Rolling shutter: per-row exposure windows and the camera motion field of a rolling-shutter photo.

Conventions (``docs/captures.md``, "Time and rolling shutter"):

- A photo's ``exposure_start_ns`` is the exposure start of the **first** sensor row (row 0, the top of the
  full frame K describes), on the photo clock. The readout sweeps the rows top to bottom in
  ``readout_time_s``: row ``y`` (full-frame pixel row, integer = pixel centre) starts exposing at
  ``exposure_start_ns + y * readout_time_s / frame_height`` and exposes for ``exposure_ns``
  (:func:`row_start_times_ns`, rounded to integer ns). ``readout_time_s = 0`` is a global shutter: every row
  starts at ``exposure_start_ns``.
- The motion field of row ``y`` is the ordinary camera motion field (:func:`gyrobench.gyro.cmf.
  camera_motion_field`, mid-exposure anchor) of that row's own exposure window, resampled to ``samples``
  equally spaced gyro samples (:meth:`GyroRecording.window_time`); so every row's vectors describe the blur
  of that row, anchored at that row's own mid-exposure. The rolling-shutter *wobble* (rows seeing the scene at
  different orientations) is not part of a blur field and is not modelled.
- Grid rows with the same start time share one computation. With ``readout_time_s = 0`` there is exactly one
  group, computed by the same call as the global-shutter field, so the result is bit-for-bit
  ``camera_motion_field(win.t_ns, win.w_cam, K, crop=crop, ...)`` (tested).

The gyro recording must already be on the photo clock (a capture shifts it by its ``time_offset_ns``, see
:meth:`gyrobench.capture.Capture.recording`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GyroFormatError, ShapeError
from .camera import Intrinsics, as_K
from .cmf import (
    LAYOUTS,
    camera_motion_field,
    cmf_homographies,
    cmf_shape,
    field_from_homographies,
    grid_coordinates,
)
from .error_model import perturb_K, perturb_window
from .recording import GyroRecording

__all__ = ["row_start_times_ns", "exposure_windows", "exposure_motion_field", "band_windows", "window_field",
           "readout_extra_samples", "DEFAULT_WINDOW_SAMPLES"]

#: samples per exposure window: 11 (10 intervals) like a GyroBlur-Synth window (8 field segments of 1.25).
DEFAULT_WINDOW_SAMPLES = 11


def row_start_times_ns(exposure_start_ns: int, readout_time_s: float, rows, frame_height: int) -> np.ndarray:
    """Exposure start (int64 ns) of full-frame pixel rows ``rows``: ``start + round(y * readout * 1e9 / H)``."""
    if readout_time_s < 0 or not np.isfinite(readout_time_s):
        raise ValueError(f"readout_time_s must be >= 0 seconds, got {readout_time_s}")
    if frame_height <= 0:
        raise ValueError(f"frame_height must be positive, got {frame_height}")
    y = np.asarray(rows, dtype=np.float64)
    return int(exposure_start_ns) + np.round(y * (float(readout_time_s) * 1e9 / float(frame_height))).astype(np.int64)


def exposure_windows(rec: GyroRecording, starts_ns, exposure_ns: int, samples: int = DEFAULT_WINDOW_SAMPLES):
    """Windows of ``samples`` equally spaced samples over ``[s, s + exposure_ns]`` for each start ``s``.

    Returns ``t_ns (G, samples)`` int64 and ``w (G, samples, 3)`` float64 rad/s on the **camera** axes (linear
    interpolation of the recording's rates, as :meth:`GyroRecording.window_time`).
    """
    starts = np.atleast_1d(np.asarray(starts_ns, dtype=np.int64))
    ts, ws = [], []
    for s in starts:
        win = rec.window_time(int(s), int(exposure_ns), samples=samples)
        ts.append(win.t_ns)
        ws.append(win.w_cam)
    return np.stack(ts), np.stack(ws)


def exposure_motion_field(rec: GyroRecording, exposure_start_ns: int, exposure_ns: int, K, *, crop=None,
                          readout_time_s: float = 0.0, frame_height: int | None = None,
                          samples: int = DEFAULT_WINDOW_SAMPLES, M: int = 8, stride: int = 2,
                          layout: str = "hwc", dtype=np.float32, **cmf_kw):
    """Camera motion field of a photo exposed from ``exposure_start_ns`` for ``exposure_ns`` (module docstring).

    Args:
        rec: gyro recording on the photo clock (rates on body axes + its ``R_imu_to_cam``).
        K: :class:`Intrinsics` or (3, 3) of the full frame (pixels); ``crop`` (x0, y0, w, h) in that frame,
            default the whole :class:`Intrinsics` frame.
        readout_time_s: rolling-shutter readout time of the full frame (0 = global shutter, the default).
        frame_height: rows of the full frame (default ``K.height``; required with a bare matrix and readout > 0).
        samples: gyro samples per exposure window (11 = 10 intervals, the GyroBlur-Synth window).
        M, stride, layout, dtype, ``cmf_kw``: as :func:`~gyrobench.gyro.cmf.camera_motion_field`.
    Returns:
        (h', w', 2M) HWC or (2M, h', w') CHW field, full-frame pixels, like the global-shutter field.
    """
    if exposure_ns <= 0:
        raise GyroFormatError(f"{rec.source}: exposure_ns must be positive, got {exposure_ns}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if crop is None:
        if not isinstance(K, Intrinsics):
            raise ShapeError("exposure_motion_field: K is a bare matrix, so pass crop=(x0, y0, width, height)")
        crop = (0, 0, K.width, K.height)
    crop = tuple(int(c) for c in crop)
    if readout_time_s == 0:
        win = rec.window_time(int(exposure_start_ns), int(exposure_ns), samples=samples)
        return camera_motion_field(win.t_ns, win.w_cam, K, crop=crop, M=M, stride=stride, layout=layout,
                                   dtype=dtype, **cmf_kw)
    if frame_height is None:
        if not isinstance(K, Intrinsics):
            raise ShapeError("exposure_motion_field: readout_time_s > 0 with a bare K needs frame_height (rows)")
        frame_height = K.height
    _, v = grid_coordinates(crop, stride)
    starts = row_start_times_ns(exposure_start_ns, readout_time_s, v, frame_height)
    uniq, inverse = np.unique(starts, return_inverse=True)
    t, w = exposure_windows(rec, uniq, exposure_ns, samples)
    H, c = cmf_homographies(t, w, K, M=M, **cmf_kw)
    out = np.empty(cmf_shape(crop, stride, M, layout), dtype=np.dtype(dtype))
    x0, _, cw, _ = crop
    Km = as_K(K)
    for i, y in enumerate(v):  # one grid row at a time, with its group's poses
        row = field_from_homographies(H[inverse[i]], Km, (x0, int(y), cw, 1), anchor_idx=c, stride=stride,
                                      layout=layout, dtype=dtype)
        if layout == "hwc":
            out[i] = row[0]
        else:
            out[:, i] = row[:, 0]
    return out


def band_windows(rec: GyroRecording, exposure_start_ns: int, exposure_ns: int, crop, *, readout_time_s: float,
                 frame_height: int, samples: int = DEFAULT_WINDOW_SAMPLES, band_rows: int = 8):
    """The exposure windows a rolling-shutter blur is rendered with: bands of ``band_rows`` rows of ``crop``.

    Each band ``(y, h)`` (full-frame rows ``y .. y + h - 1``) uses the window of its first row ``y``
    (:func:`row_start_times_ns`, :func:`exposure_windows`). With ``readout_time_s = 0`` there is one band, the
    whole crop. Returns ``(bands [(y, h)], t_ns (G, samples), w_cam (G, samples, 3))``.
    """
    _, y0, _, h = (int(v) for v in crop)
    if readout_time_s == 0:
        bands = [(y0, h)]
    else:
        bands = [(y, min(band_rows, y0 + h - y)) for y in range(y0, y0 + h, band_rows)]
    starts = row_start_times_ns(exposure_start_ns, readout_time_s, [b[0] for b in bands], frame_height)
    t, w = exposure_windows(rec, starts, exposure_ns, samples)
    return bands, t, w


def readout_extra_samples(readout_time_s: float, dt_ns: float) -> int:
    """Gyro samples to read beyond an exposure window so that it also covers a readout of ``readout_time_s``
    at a sample interval of ``dt_ns``: ``ceil(readout / dt) + 1`` (one sample of margin for timing jitter),
    0 for a global shutter."""
    if readout_time_s == 0:
        return 0
    return int(math.ceil(float(readout_time_s) * 1e9 / float(dt_ns))) + 1


def window_field(t_ns, w_cam, K, exposure_ns: int, *, crop, readout_time_s: float, frame_height: int,
                 draw=None, **field_kw):
    """Motion field of a stored rolling-shutter gyro window (``gyrobench synth`` with ``exposure.readout_time_s``).

    ``t_ns`` (N,), ``w_cam`` (N, 3) rad/s on the camera axes: the window read for the image, starting at the
    exposure start of full-frame row 0 and covering the exposure ``exposure_ns`` plus the readout. The exposure has
    ``S`` samples, the count of ``t_ns <= t_ns[0] + exposure_ns`` (the recipe's ``exposure.samples``). The field
    is :func:`exposure_motion_field`: each row's vectors are the field of that row's own exposure window, anchored
    at its own mid-exposure (the network sees, per row, the blur of that row). ``field_kw``: ``M``, ``stride``,
    ``interp``, ``anchor``, ``rotation``, ``layout``, ``dtype``. ``draw`` (an
    :class:`~gyrobench.gyro.error_model.ErrorDraw`): the noisy field, with the rates and intrinsics perturbed by
    the draw over the whole window (``perturb_window``, ``perturb_K``), as ``noisy_camera_motion_field`` does for a
    global shutter.
    """
    if draw is not None:
        w_cam, K = perturb_window(t_ns, w_cam, draw), perturb_K(K, draw)
    t = np.asarray(t_ns, dtype=np.int64)
    samples = int(np.searchsorted(t, t[0] + int(exposure_ns), side="right"))
    rec = GyroRecording(t, np.asarray(w_cam, dtype=np.float64), np.eye(3), "stored rolling-shutter window")
    return exposure_motion_field(rec, int(t[0]), int(exposure_ns), K, crop=crop, readout_time_s=readout_time_s,
                                 frame_height=frame_height, samples=samples, **field_kw)
