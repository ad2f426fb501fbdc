"""Gyro window -> camera orientations -> per-pose homographies (spec ``gyrodeblurnet.md`` §3.1 steps 1-3, §1.2).

One integration scheme serves both the camera motion field (:mod:`gyrobench.gyro.cmf`) and the blur renderer,
so that the field describes the same trajectory the blur was made with:

- A window of ``S = n_intervals + 1`` samples (GyroBlur-Synth: 11 samples, 10 raw intervals).
- The exposure is cut into ``n_steps`` equal steps *in raw-interval units*: step ``j`` starts at
  ``u_j = j * n_intervals / n_steps`` raw intervals, i.e. inside raw interval ``i_j = floor(u_j)`` at fraction
  ``f_j = u_j - i_j`` (integer arithmetic, no float floor).
- Rate at the step's left end: ``interp="linear"`` -> ``w_{i_j} + f_j (w_{i_j+1} - w_{i_j})`` (the official
  code); ``interp="cubic"`` -> a not-a-knot cubic spline through the S samples over the sample index (the
  paper's description, spec §3.2).
- Angle increment (left rectangle): ``a_j = w(u_j) * (n_intervals / n_steps) * Delta_{i_j}`` with
  ``Delta_i = (t_{i+1} - t_i) * 1e-9`` s, the length of the raw interval the step *starts* in (so a window across a
  gap gets a stretched step, exactly as the official code, spec §2 "Gap handling").
- ``R_j = increment(a_j)`` (Euler product ``Rx(-ax) Ry(-ay) Rz(-az)`` or the exact exponential map,
  :mod:`gyrobench.gyro.rotation`); ``O_0 = I``, ``O_{j+1} = R_j O_j``.
- Relative to the anchor pose c: ``H_k = K (O_k O_c^T) K^-1`` maps anchor-frame pixel coordinates to pose k.
  ``anchor="mid"`` is ``c = n_steps // 2`` (the official mid-exposure anchor for even step counts: c = 4 of 8),
  ``anchor="start"`` is ``c = 0``; an int picks any pose.

The CMF uses ``n_steps = M`` (8 steps of 1.25 raw intervals). :func:`pose_homographies` gives the blur
renderer ``n_intervals * substeps + 1`` poses; with its default ``scheme="cmf"`` the field's M+1 poses are exactly
every ``L``-th of them (``L = n_intervals * substeps / M``), so the clean field describes the rendered blur
exactly. ``scheme="fine"`` integrates on the fine steps instead (spec §1.2's inferred synthesizer); the
official 1.25-interval left-rectangle rule then lags the finely integrated trajectory by a median 3.2 px at the
frame corners on gyro_train windows (measured, docs/gyro.md).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GyroFormatError, ShapeError
from .camera import as_K
from .rotation import increment, integrate_orientations

__all__ = ["step_increments", "window_orientations", "relative_rotations", "pose_homographies",
           "rotation_homographies",
           "substeps_for_max_step", "anchor_index", "INTERPS", "ANCHORS"]

INTERPS = ("linear", "cubic")
ANCHORS = ("mid", "start")


def _check_window(t_ns, w, n_intervals):
    t = np.asarray(t_ns)
    w = np.asarray(w, dtype=np.float64)
    if t.ndim < 1 or w.shape != (*t.shape, 3):
        raise ShapeError(f"gyro window: expected t_ns (..., S) and w (..., S, 3), got {t.shape} and {w.shape}")
    S = t.shape[-1]
    if n_intervals is None:
        n_intervals = S - 1
    if n_intervals < 1 or S < n_intervals + 1:
        raise GyroFormatError(
            f"gyro window has {S} samples but n_intervals={n_intervals} needs {n_intervals + 1} "
            "(the last sample is read as an interpolation end point); pass a longer window"
        )
    t = t[..., : n_intervals + 1].astype(np.int64)
    d = np.diff(t, axis=-1)
    if (d <= 0).any():
        raise GyroFormatError("gyro window: timestamps must be strictly increasing integer nanoseconds")
    return t, w[..., : n_intervals + 1, :], int(n_intervals)


def anchor_index(anchor, n_steps: int) -> int:
    """Pose index of ``anchor`` ("mid" -> n_steps // 2, "start" -> 0, or an int in 0..n_steps)."""
    if anchor == "mid":
        return n_steps // 2
    if anchor == "start":
        return 0
    if isinstance(anchor, (int, np.integer)) and 0 <= anchor <= n_steps:
        return int(anchor)
    raise ValueError(f"anchor must be 'mid', 'start' or a pose index 0..{n_steps}, got {anchor!r}")


def step_increments(t_ns, w, n_steps: int, *, n_intervals: int | None = None, interp: str = "linear"):
    """Angle increments (..., n_steps, 3) rad and step lengths (..., n_steps) s over a window (module docstring).

    ``t_ns`` (..., S) int64 ns, ``w`` (..., S, 3) rad/s on camera axes. Batched over leading dims.
    """
    t, w, n = _check_window(t_ns, w, n_intervals)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    j = np.arange(n_steps)
    i = (j * n) // n_steps  # raw interval where step j starts
    f = ((j * n) % n_steps) / n_steps  # fraction inside it
    delta = np.diff(t, axis=-1).astype(np.float64) * 1e-9  # (..., n) s
    if interp == "linear":
        w0 = w[..., i, :]
        rate = w0 + f[:, None] * (w[..., i + 1, :] - w0)
    elif interp == "cubic":
        from scipy.interpolate import CubicSpline

        cs = CubicSpline(np.arange(n + 1, dtype=np.float64), w, axis=-2, bc_type="not-a-knot")
        rate = cs(j * (n / n_steps))  # (..., n_steps, 3): scipy puts the query axis at `axis`
    else:
        raise ValueError(f"interp must be one of {INTERPS}, got {interp!r}")
    dt = delta[..., i] * (n / n_steps)
    return rate * dt[..., None], dt


def window_orientations(t_ns, w, n_steps: int, *, n_intervals=None, interp="linear", rotation="euler"):
    """Orientations ``O`` (..., n_steps+1, 3, 3) and pose times ``tau`` (..., n_steps+1) s from the window start."""
    a, dt = step_increments(t_ns, w, n_steps, n_intervals=n_intervals, interp=interp)
    O = integrate_orientations(increment(a, rotation))
    tau = np.concatenate([np.zeros((*dt.shape[:-1], 1)), np.cumsum(dt, axis=-1)], axis=-1)
    return O, tau


def relative_rotations(O, anchor_idx: int):
    """``O_k O_c^T`` (..., P, 3, 3): the rotation taking the anchor frame to pose k."""
    Oc = O[..., anchor_idx : anchor_idx + 1, :, :]
    return O @ np.swapaxes(Oc, -1, -2)


def pose_homographies(t_ns, w, K, *, substeps: int = 8, n_intervals: int | None = None, anchor="mid",
                      rotation: str = "euler", interp: str = "linear", scheme: str = "cmf", M: int = 8):
    """Homographies of the poses at ``substeps`` sub-steps per raw interval, for the blur renderer.

    Args:
        t_ns: (S,) or (B, S) int64 ns window (S >= n_intervals + 1; default n_intervals = S - 1 = 10).
        w: (S, 3) or (B, S, 3) float64 rad/s on camera axes.
        K: Intrinsics or (3, 3) for the *full* frame the homographies act on.
        scheme: how the sub-step poses are integrated (see docs/gyro.md, "Blur poses vs field poses"):

            - ``"cmf"`` (default): the M field steps are integrated exactly as :func:`~gyrobench.gyro.cmf.
              camera_motion_field` does, and each is split into ``L = n_intervals * substeps / M`` sub-poses
              ``increment((r/L) a_m) O_m`` (constant rate inside a field step). The field's M+1 poses are then
              *exactly* (bit for bit) the blur poses ``0, L, 2L, ...``, so the clean field describes the rendered
              blur exactly. Needs ``n_intervals * substeps`` divisible by M (substeps = 4, 8, ... for M = 8).
            - ``"fine"``: the same left-rectangle scheme with linearly interpolated rates, but on
              ``n_intervals * substeps`` steps (the official synthesizer as inferred in spec §1.2). More accurate
              integration of the rate curve, so the poses at the field's times differ from the field's own
              poses by the field's integration error (median 3.2 px at the frame corners on gyro_train windows).
        M: the field's segment count (``scheme="cmf"`` only).
    Returns:
        ``H`` (..., P, 3, 3) float64 with P = n_intervals * substeps + 1: ``H[k]`` maps anchor-frame pixel
        coordinates (x right, y down, full frame) to pose k (``p_k = dehom(H[k] @ [x, y, 1])``); the anchor pose
        has ``H = I`` exactly. ``tau_s`` (..., P): pose times in seconds from the exposure start.
    """
    t = np.asarray(t_ns)
    n = (t.shape[-1] - 1) if n_intervals is None else int(n_intervals)
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    n_steps = n * int(substeps)
    if scheme == "fine":
        O, tau = window_orientations(t_ns, w, n_steps, n_intervals=n, interp=interp, rotation=rotation)
        c = anchor_index(anchor, n_steps)
    elif scheme == "cmf":
        if n_steps % M:
            raise ValueError(f"scheme='cmf' needs n_intervals * substeps ({n}*{substeps}) divisible by M={M}; "
                             "use substeps = 4, 8, 12, ... for M = 8, or scheme='fine'")
        L = n_steps // M
        a, dt = step_increments(t_ns, w, M, n_intervals=n, interp=interp)
        Ocmf = integrate_orientations(increment(a, rotation))  # (..., M+1, 3, 3), identical to the field's
        f = np.arange(L) / L  # (L,)
        sub = increment(a[..., :, None, :] * f[:, None], rotation)  # (..., M, L, 3, 3)
        Osub = sub @ Ocmf[..., :M, None, :, :]  # (..., M, L, 3, 3); r = 0 is exactly O_m (increment(0) = I)
        O = np.concatenate([Osub.reshape(*Osub.shape[:-4], M * L, 3, 3), Ocmf[..., M:, :, :]], axis=-3)
        tau_cmf = np.concatenate([np.zeros((*dt.shape[:-1], 1)), np.cumsum(dt, axis=-1)], axis=-1)
        tau = (tau_cmf[..., :M, None] + dt[..., :, None] * f).reshape(*dt.shape[:-1], M * L)
        tau = np.concatenate([tau, tau_cmf[..., M:]], axis=-1)
        c = anchor_index(anchor, M) * L
    else:
        raise ValueError(f"scheme must be 'cmf' or 'fine', got {scheme!r}")
    H = rotation_homographies(K, relative_rotations(O, c))
    H[..., c, :, :] = np.eye(3)
    return H, tau


def rotation_homographies(K, R) -> np.ndarray:
    """``K R K^-1`` evaluated as ``I + K (R - I) K^-1`` (float64, batched over R's leading dims).

    Mathematically identical; the rounding error scales with the rotation instead of with the image coordinates,
    and an exact identity rotation gives an exact identity homography (a zero-rotation window -> a zero field).
    """
    Km = as_K(K)
    return np.eye(3) + Km @ (R - np.eye(3)) @ np.linalg.inv(Km)


def substeps_for_max_step(t_ns, w, K, frame_hw, max_step_px: float = 1.0, min_substeps: int = 8,
                          max_substeps: int = 256, **kw) -> int:
    """Smallest number of sub-steps per raw interval (>= ``min_substeps``) such that no pixel of the frame moves
    more than ``max_step_px`` between consecutive poses (checked at the frame corners, edge midpoints and centre,
    where the largest displacements of a rotation homography occur). ``frame_hw`` = (H, W) in pixels of K's
    frame; ``kw`` passes through to :func:`pose_homographies`. With ``scheme="cmf"`` (the default) the count is
    kept a multiple of ``M / gcd(n_intervals, M)`` (4 for 10 intervals and M = 8) so it is always valid there.
    """
    h, wd = frame_hw
    xs, ys = (0.0, (wd - 1) / 2, wd - 1.0), (0.0, (h - 1) / 2, h - 1.0)
    pts = np.array([[x, y, 1.0] for y in ys for x in xs]).T
    n = int(kw.get("n_intervals") or (np.asarray(t_ns).shape[-1] - 1))
    big_m = int(kw.get("M", 8))
    mult = big_m // math.gcd(n, big_m) if kw.get("scheme", "cmf") == "cmf" else 1

    def up(v):
        return int(math.ceil(v / mult) * mult)

    s = up(max(1, int(min_substeps)))
    top = up(max_substeps)
    while True:
        H, _ = pose_homographies(t_ns, w, K, substeps=s, **kw)
        q = H @ pts
        p = q[..., :2, :] / q[..., 2:, :]
        step = float(np.linalg.norm(np.diff(p, axis=-3), axis=-2).max())
        if step <= max_step_px or s >= top:
            return s
        s = min(top, max(up(s + 1), up(s * step / max_step_px)))
