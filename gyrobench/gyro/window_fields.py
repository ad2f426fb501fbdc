"""One gyro window to the network's inputs: rates on the camera axes, then the clean and the noisy motion field.

The one implementation of "gyro window -> camera axes -> clean and noisy field" (issue 24 item 3), used by the
stored path (``gyrobench synth`` with ``storage.store_cmf``), the dataset reader (fields recomputed from the stored
gyro) and the on-the-fly sampler:

- :func:`camera_rates`: rates as recorded (body/IMU axes, rad/s) to the camera axes, ``w @ R_imu_to_cam.T``
  (``docs/conventions.md`` §1);
- :func:`window_fields`: ``(clean, noisy)`` of one window: :func:`gyrobench.gyro.cmf.camera_motion_field` (global
  shutter) or :func:`gyrobench.gyro.rolling_shutter.window_field` (rolling shutter: each row's own exposure
  window), the noisy one of the perturbed window and intrinsics of an error-model draw
  (:func:`gyrobench.gyro.error_model.noisy_camera_motion_field`), or the clean one itself without a draw.

No hand-shake ``strength`` here: a window's rates are scaled once, where the window is taken
(:meth:`gyrobench.builder.sources.GyroWindowSource.window`), and stored scaled.
"""

from __future__ import annotations

import numpy as np

from .cmf import camera_motion_field
from .error_model import ErrorDraw, noisy_camera_motion_field
from .rolling_shutter import window_field

__all__ = ["camera_rates", "window_fields"]


def camera_rates(w, R_imu_to_cam=None) -> np.ndarray:
    """(S, 3) rad/s on the IMU axes -> (S, 3) float64 rad/s on the camera axes: ``w @ R_imu_to_cam.T``
    (``R_imu_to_cam`` None: the axes are the camera's already; ``w`` is returned as float64).

    >>> camera_rates([[1.0, 2.0, 3.0]], [[0, 1, 0], [-1, 0, 0], [0, 0, 1]]).tolist()
    [[2.0, -1.0, 3.0]]
    """
    w = np.asarray(w, dtype=np.float64)
    if R_imu_to_cam is None:
        return w
    return w @ np.asarray(R_imu_to_cam, dtype=np.float64).T


def window_fields(t_ns, w_cam, K, *, draw: ErrorDraw | None = None, readout_time_s: float = 0.0,
                  exposure_ns: int | None = None, frame_height: int | None = None, **cmf_kwargs):
    """``(clean, noisy)`` motion fields of one window ``t_ns`` (S,) int64 ns, ``w_cam`` (S, 3) rad/s on the camera
    axes (:func:`camera_rates`), full-frame intrinsics ``K``.

    ``draw``: the error-model draw of the noisy field (None: ``noisy is clean``, the same array).
    ``readout_time_s`` > 0 (seconds, rolling shutter) needs ``exposure_ns`` (the exposure of one row, ns) and
    ``frame_height`` (px of the full frame). ``cmf_kwargs``: ``crop``, ``M``, ``layout``, ``dtype``, ... as for
    :func:`~gyrobench.gyro.cmf.camera_motion_field`.
    """
    if readout_time_s > 0:
        rs = dict(exposure_ns=int(exposure_ns), readout_time_s=float(readout_time_s), frame_height=int(frame_height),
                  **cmf_kwargs)
        clean = window_field(t_ns, w_cam, K, **rs)
        noisy = clean if draw is None else window_field(t_ns, w_cam, K, draw=draw, **rs)
        return clean, noisy
    clean = camera_motion_field(t_ns, w_cam, K, **cmf_kwargs)
    noisy = clean if draw is None else noisy_camera_motion_field(t_ns, w_cam, K, draw, **cmf_kwargs)
    return clean, noisy
