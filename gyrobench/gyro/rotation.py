"""Rotation math for gyro integration: batched, pure functions on numpy arrays or torch tensors.

Conventions (spec ``gyrodeblurnet.md`` §3.1 step 2-3):

- An *angle increment* ``a = (a_x, a_y, a_z)`` is the angular velocity times the step length, in **radians**,
  expressed on the camera axes (x right, y down, z forward) after ``R_imu_to_cam`` has been applied.
- ``Rx``, ``Ry``, ``Rz`` are the standard right-handed rotation matrices, e.g.
  ``Rz(t) = [[cos t, -sin t, 0], [sin t, cos t, 0], [0, 0, 1]]``.
- The official GyroDeblurNet generator maps points with the *inverse* body rotation, built as the Euler product
  ``R = Rx(-a_x) @ Ry(-a_y) @ Rz(-a_z)`` (:func:`euler_increment`). :func:`expmap_increment` is the exact
  exponential map of the same rotation vector with the same sign, ``exp([-a]_x)`` (Rodrigues); the two agree to
  first order and differ by ``O(|a|^2)`` (spec §3.3 item 4).
- Orientations accumulate with later increments on the **left**: ``O_0 = I``, ``O_{k+1} = R_k @ O_k``
  (:func:`integrate_orientations`).

All functions accept any leading batch dimensions: ``(..., 3) -> (..., 3, 3)``; numpy in gives numpy out
(float64 unless a float32 array is passed), torch in gives torch out (differentiable).

Example::

    >>> import numpy as np
    >>> R = euler_increment(np.array([0.0, 0.0, 0.1]))
    >>> bool(np.allclose(R, rotation_matrix("z", -0.1)))
    True
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError

__all__ = [
    "rotation_matrix",
    "euler_increment",
    "expmap_increment",
    "increment",
    "integrate_orientations",
    "skew",
    "log_so3",
    "ROTATIONS",
]

ROTATIONS = ("euler", "expmap")


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _check_last(a, n: int, name: str) -> None:
    if a.ndim < 1 or a.shape[-1] != n:
        raise ShapeError(f"{name}: expected shape (..., {n}), got {tuple(a.shape)}")


def _stack33(entries, like):
    """Assemble a (..., 3, 3) array from 9 (...)-shaped entries in row-major order."""
    if _is_torch(like):
        import torch

        return torch.stack(entries, dim=-1).reshape(*entries[0].shape, 3, 3)
    return np.stack(entries, axis=-1).reshape(*np.shape(entries[0]), 3, 3)


def rotation_matrix(axis: str, theta):
    """Standard right-handed rotation by ``theta`` (rad, any shape) about ``axis`` in {"x","y","z"} -> (..., 3, 3)."""
    if _is_torch(theta):
        import torch

        c, s = torch.cos(theta), torch.sin(theta)
        o, z = torch.ones_like(theta), torch.zeros_like(theta)
    else:
        theta = np.asarray(theta)
        if not np.issubdtype(theta.dtype, np.floating):
            theta = theta.astype(np.float64)
        c, s = np.cos(theta), np.sin(theta)
        o, z = np.ones_like(theta), np.zeros_like(theta)
    if axis == "x":
        e = [o, z, z, z, c, -s, z, s, c]
    elif axis == "y":
        e = [c, z, s, z, o, z, -s, z, c]
    elif axis == "z":
        e = [c, -s, z, s, c, z, z, z, o]
    else:
        raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}")
    return _stack33(e, theta)


def euler_increment(a):
    """Official Euler-product increment ``Rx(-a_x) Ry(-a_y) Rz(-a_z)`` for angle increments ``a`` (..., 3) rad.

    Spec ``gyrodeblurnet.md`` §3.1 step 2. Computed in closed form (one product expanded), so it is exact to
    rounding and batched: returns (..., 3, 3).
    """
    _check_last(a, 3, "euler_increment(a)")
    if _is_torch(a):
        import torch

        cx, sx = torch.cos(-a[..., 0]), torch.sin(-a[..., 0])
        cy, sy = torch.cos(-a[..., 1]), torch.sin(-a[..., 1])
        cz, sz = torch.cos(-a[..., 2]), torch.sin(-a[..., 2])
    else:
        a = np.asarray(a)
        if not np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float64)
        cx, sx = np.cos(-a[..., 0]), np.sin(-a[..., 0])
        cy, sy = np.cos(-a[..., 1]), np.sin(-a[..., 1])
        cz, sz = np.cos(-a[..., 2]), np.sin(-a[..., 2])
    # Rx(tx) Ry(ty) Rz(tz) with t = -a, expanded:
    # Ry Rz = [[cy cz, -cy sz, sy], [sz, cz, 0], [-sy cz, sy sz, cy]]
    # Rx (Ry Rz): row0 unchanged; row1 = c*r1 - s*r2; row2 = s*r1 + c*r2
    e = [
        cy * cz, -cy * sz, sy,
        cx * sz + sx * sy * cz, cx * cz - sx * sy * sz, -sx * cy,
        sx * sz - cx * sy * cz, sx * cz + cx * sy * sz, cx * cy,
    ]  # fmt: skip
    return _stack33(e, a)


def skew(v):
    """Cross-product matrix ``[v]_x`` of (..., 3) vectors -> (..., 3, 3), so that ``[v]_x @ u = v x u``."""
    _check_last(v, 3, "skew(v)")
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = x * 0
    return _stack33([zero, -z, y, z, zero, -x, -y, x, zero], v)


def expmap_increment(a):
    """Exact exponential map ``exp([-a]_x)`` (Rodrigues) for angle increments ``a`` (..., 3) rad -> (..., 3, 3).

    Same sign convention as :func:`euler_increment` (points map with the inverse body rotation); the two agree
    to first order in ``|a|``. Small angles use the Taylor series of ``sin(t)/t`` and ``(1-cos t)/t^2``.
    """
    _check_last(a, 3, "expmap_increment(a)")
    torch_in = _is_torch(a)
    if torch_in:
        import torch

        v = -a
        t2 = (v * v).sum(-1)
        t = torch.sqrt(t2)
        small = t2 < 1e-8
        ts = torch.where(small, torch.ones_like(t), t)
        A = torch.where(small, 1 - t2 / 6 + t2 * t2 / 120, torch.sin(ts) / ts)
        B = torch.where(small, 0.5 - t2 / 24 + t2 * t2 / 720, (1 - torch.cos(ts)) / (ts * ts))
        eye = torch.eye(3, dtype=a.dtype, device=a.device)
    else:
        a = np.asarray(a)
        if not np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float64)
        v = -a
        t2 = (v * v).sum(-1)
        t = np.sqrt(t2)
        small = t2 < 1e-8
        ts = np.where(small, 1.0, t)
        A = np.where(small, 1 - t2 / 6 + t2 * t2 / 120, np.sin(ts) / ts)
        B = np.where(small, 0.5 - t2 / 24 + t2 * t2 / 720, (1 - np.cos(ts)) / (ts * ts))
        eye = np.eye(3, dtype=a.dtype)
    S = skew(v)
    return eye + A[..., None, None] * S + B[..., None, None] * (S @ S)


def increment(a, rotation: str = "euler"):
    """Dispatch to :func:`euler_increment` (``"euler"``, official) or :func:`expmap_increment` (``"expmap"``)."""
    if rotation == "euler":
        return euler_increment(a)
    if rotation == "expmap":
        return expmap_increment(a)
    raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")


def integrate_orientations(R):
    """Accumulate increments ``R`` (..., M, 3, 3) into orientations (..., M+1, 3, 3).

    ``O_0 = I`` and ``O_{k+1} = R_k @ O_k`` (later increments multiply on the left, spec §3.1 step 3). The loop
    runs over the M time steps only; everything else is batched.
    """
    if R.ndim < 3 or tuple(R.shape[-2:]) != (3, 3):
        raise ShapeError(f"integrate_orientations(R): expected (..., M, 3, 3), got {tuple(R.shape)}")
    M = R.shape[-3]
    if _is_torch(R):
        import torch

        eye = torch.eye(3, dtype=R.dtype, device=R.device).expand(*R.shape[:-3], 3, 3)
        out = [eye]
        for k in range(M):
            out.append(R[..., k, :, :] @ out[-1])
        return torch.stack(out, dim=-3)
    out = np.empty((*R.shape[:-3], M + 1, 3, 3), dtype=R.dtype)
    out[..., 0, :, :] = np.eye(3)
    for k in range(M):
        out[..., k + 1, :, :] = R[..., k, :, :] @ out[..., k, :, :]
    return out


def log_so3(R):
    """Rotation vector ``r`` (..., 3) with ``exp([r]_x) = R`` for rotations with angle < pi (numpy only)."""
    R = np.asarray(R, dtype=np.float64)
    cos_t = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    t = np.arccos(cos_t)
    w = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    small = t < 1e-4
    ts = np.where(small, 1.0, t)
    f = np.where(small, 0.5 + t * t / 12, ts / (2 * np.sin(ts)))
    return w * f[..., None]
