"""DeepGyro's two-channel blur field (Mustaniemi et al., WACV 2019, arXiv 1810.00986), with its own conventions.

DeepGyro feeds its U-Net one integer blur vector per pixel, computed from the gyro with a rolling-shutter model.
This module reproduces that computation (described in ``docs/captures.md``, "DeepGyro blur fields") so that a
capture can be given to a DeepGyro-style network exactly as the original preprocessing would. Steps:

1. Rates on the camera axes (the capture's ``R_imu_to_cam``), on the photo clock (its time offset applied).
2. Row time ``dt = readout_time_s / H`` with H the rows of the output image (after ``scale``). The rates are
   linearly interpolated onto the grid ``t_n = exposure_start + n dt``, ``n = 0 .. H - 1 + n_exp``, with
   ``n_exp = floor(exposure_s / dt)`` (float division and floor, as the original).
3. Orientations by first-order quaternion integration from the identity at ``t_0``:
   ``q_{n+1} = normalise(q_n + dt/2 * q_n ⊗ (0, ω_n))`` (Hamilton product, scalar first), and ``R_n`` the
   rotation matrix of ``q_n`` (the active rotation: ``R(q) v = q ⊗ v ⊗ q*``).
4. Row r: ``H_r = K R_{r + n_exp} R_r^T K^-1``; pixel ``x = (u, r, 1)`` moves to ``x' = dehom(H_r x)``.
5. ``B = round(x' - x)`` (round half to even, numpy's ``rint``); where ``B_y > 0`` both components are negated
   (an undirected segment; ``B_y = 0`` keeps the sign of ``B_x``).
6. Files: ``blurx/NAME.png`` and ``blury/NAME.png``, 8-bit single channel, ``B + 128`` clipped to 0..255.

A global shutter (``readout_time_s = 0``) has no row time, so this style needs ``readout_time_s > 0``; use the
camera motion field (``gyrobench capture blur-field --style cmf``) for global-shutter captures.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GyroFormatError
from .camera import as_K

__all__ = ["quat_multiply", "quat_to_matrix", "integrate_quaternions", "deepgyro_blur_vectors",
           "encode_deepgyro_png"]


def quat_multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p ⊗ q`` of (..., 4) quaternions, scalar first ``(w, x, y, z)``."""
    pw, px, py, pz = np.moveaxis(np.asarray(p, dtype=np.float64), -1, 0)
    qw, qx, qy, qz = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack([pw * qw - px * qx - py * qy - pz * qz,
                     pw * qx + px * qw + py * qz - pz * qy,
                     pw * qy - px * qz + py * qw + pz * qx,
                     pw * qz + px * qy - py * qx + pz * qw], axis=-1)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3, 3) active rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = np.moveaxis(q, -1, 0)
    e = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
         2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
         2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
    return np.stack(e, axis=-1).reshape(*q.shape[:-1], 3, 3)


def integrate_quaternions(w: np.ndarray, dt: float) -> np.ndarray:
    """Forward-Euler integration of ``q' = q ⊗ (0, ω) / 2`` from the identity: ``w`` (N, 3) rad/s -> (N, 4).

    ``q_0 = (1, 0, 0, 0)``; ``q_{n+1} = normalise(q_n + dt/2 q_n ⊗ (0, ω_n))``.
    """
    w = np.asarray(w, dtype=np.float64)
    n = w.shape[0]
    q = np.empty((n, 4))
    q[0] = (1.0, 0.0, 0.0, 0.0)
    half = 0.5 * float(dt)
    for k in range(n - 1):  # a sequential recursion; 4-vectors, a few thousand steps per photo
        a, b, c, d = q[k]
        ox, oy, oz = w[k]
        nq = (a - half * (b * ox + c * oy + d * oz),
              b + half * (a * ox + c * oz - d * oy),
              c + half * (a * oy - b * oz + d * ox),
              d + half * (a * oz + b * oy - c * ox))
        s = math.sqrt(nq[0] ** 2 + nq[1] ** 2 + nq[2] ** 2 + nq[3] ** 2)
        q[k + 1] = (nq[0] / s, nq[1] / s, nq[2] / s, nq[3] / s)
    return q


def deepgyro_blur_vectors(t_ns, w_cam, K, image_hw: tuple[int, int], exposure_start_ns: int, exposure_ns: int,
                          readout_time_s: float, *, source: str = "<gyro>") -> np.ndarray:
    """DeepGyro blur vectors ``(2, H, W)`` int16 ``(B_x, B_y)`` in output pixels (module docstring, steps 2-5).

    ``t_ns`` (N,) int64 gyro times on the photo clock, ``w_cam`` (N, 3) rad/s on camera axes, ``K`` (3, 3) of
    the output image (already scaled), ``image_hw`` its (H, W).
    """
    H, W = int(image_hw[0]), int(image_hw[1])
    if readout_time_s is None or not readout_time_s > 0:
        raise GyroFormatError(f"{source}: DeepGyro-style blur fields need readout_time_s > 0 (one gyro sample per "
                              f"row time readout/H), got {readout_time_s}; give the readout time in the "
                              "calibration file, or use --style cmf for a global-shutter capture")
    dt = float(readout_time_s) / H
    n_exp = int(math.floor((exposure_ns * 1e-9) / dt))
    n = H + n_exp
    t_ns = np.asarray(t_ns, dtype=np.int64)
    tq = exposure_start_ns + np.arange(n) * (dt * 1e9)  # float ns on the photo clock
    if tq[0] < t_ns[0] or tq[-1] > t_ns[-1]:
        raise GyroFormatError(f"{source}: the gyro covers [{t_ns[0]}, {t_ns[-1]}] ns but the photo needs "
                              f"[{int(tq[0])}, {int(tq[-1])}] ns (exposure + readout); check the time offset and "
                              "that the log spans the photo")
    rel = (t_ns - t_ns[0]).astype(np.float64)
    tr = tq - float(t_ns[0])
    wg = np.stack([np.interp(tr, rel, np.asarray(w_cam, dtype=np.float64)[:, k]) for k in range(3)], axis=-1)
    R = quat_to_matrix(integrate_quaternions(wg, dt))  # (n, 3, 3)
    Km = as_K(K)
    rel_rot = R[n_exp:n_exp + H] @ np.swapaxes(R[:H], -1, -2)  # (H, 3, 3): R_{r+n_exp} R_r^T
    Hs = Km @ rel_rot @ np.linalg.inv(Km)
    u = np.arange(W, dtype=np.float64)
    r = np.arange(H, dtype=np.float64)
    # x' = H_r (u, r, 1): rows of H_r evaluated on the row's pixels
    num_x = Hs[:, 0, 0, None] * u + (Hs[:, 0, 1] * r + Hs[:, 0, 2])[:, None]
    num_y = Hs[:, 1, 0, None] * u + (Hs[:, 1, 1] * r + Hs[:, 1, 2])[:, None]
    den = Hs[:, 2, 0, None] * u + (Hs[:, 2, 1] * r + Hs[:, 2, 2])[:, None]
    bx = np.rint(num_x / den - u[None, :])
    by = np.rint(num_y / den - r[:, None])
    flip = by > 0
    bx = np.where(flip, -bx, bx)
    by = np.where(flip, -by, by)
    return np.stack([bx, by]).astype(np.int16)


def encode_deepgyro_png(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(2, H, W)`` integer vectors -> (blurx, blury) uint8 images ``clip(B + 128, 0, 255)``."""
    enc = np.clip(np.asarray(b, dtype=np.int32) + 128, 0, 255).astype(np.uint8)
    return enc[0], enc[1]
