"""Camera motion field (CMF): spec ``gyrodeblurnet.md`` §3.1 exactly, vectorised and batched.

For a gyro window ``t_ns`` (S,) int64 ns, ``w`` (S, 3) rad/s (camera axes) and intrinsics K of the *full* frame:

1. M steps of ``n_intervals / M`` raw intervals (official: M = 8 steps of 1.25 intervals over the 10 intervals of
   an 11-sample window), rate linearly interpolated at each step's left end, left-rectangle angle increments,
   Euler-product rotations ``Rx(-ax) Ry(-ay) Rz(-az)``, ``O_{k+1} = R_k O_k``  (:mod:`.trajectory`).
2. ``H_k = K O_k O_c^T K^-1`` relative to the anchor pose ``c`` (``"mid"``: c = M/2 = 4, the official choice).
3. Grid: full-frame pixel coordinates ``x = (x0 + stride*j, y0 + stride*i)`` for the crop ``(x0, y0, width,
   height)`` (official: crop (320, 180, 1280, 720) of 1920x1080, stride 2 -> even crop pixels, no averaging).
4. Channel pair m (channels 2m, 2m+1) = ``p_{m+1}(x) - p_m(x)`` as (dx, dy), ``p_k = dehom(H_k x)``, m = 0..M-1:
   the trajectory segments in forward time of the scene point that sits at x at the anchor time, in
   **full-resolution pixels** (not divided by the stride). x = columns right, y = rows down.
5. Output ``(ceil(height/stride), ceil(width/stride), 2M)`` HWC (``layout="hwc"``, the .npy file layout) or
   ``(2M, h, w)`` (``layout="chw"``, the tensor layout of docs/conventions.md §1); float32 by default.

The official generator builds the "pre" half by inverting right-accumulated homographies and the "pro" half by
left accumulation, then differences and negates (spec §3.1 steps 3, 5); that equals the closed form above
(``[K R_3..R_k K^-1]^-1 = K O_k O_4^T K^-1``), which is what is computed here.

Speed: each coordinate row of ``H x`` is ``a*u + (b*v + c)`` -- an outer sum of a (W',) and an (H',) vector -- so
the projection of the whole grid costs three outer sums, one reciprocal and two products per pose; torch kernels
evaluate all poses at once per block of grid rows (numpy fallback: one pose at a time), see ``_field_torch``. Coordinates are taken
relative to the principal point (``T^-1 H T``), which keeps float32 errors around 1e-4 px (float64: ~1e-12 px).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from ..errors import ShapeError
from .camera import Intrinsics, as_K
from .trajectory import anchor_index, relative_rotations, rotation_homographies, window_orientations

__all__ = ["FieldSpec", "camera_motion_field", "camera_motion_fields", "cmf_homographies", "field_from_homographies",
           "cmf_shape", "grid_coordinates", "LAYOUTS"]

LAYOUTS = ("hwc", "chw")


@dataclass(frozen=True)
class FieldSpec:
    """Which camera motion field: the options that change its values (spec ``gyrodeblurnet.md`` §3.1).

    ``FieldSpec()`` is the official field: M = 8 segments, stride 2 px, linearly interpolated rates, anchored at
    mid-exposure, Euler-product rotations. Datasets record the spec of their fields in each shard's ``field_spec``
    attribute; a loader reuses stored fields only when the spec it wants ``==`` the stored one, and otherwise
    recomputes them from the stored gyro. Typed in the training config as ``data.field``.

    >>> FieldSpec() == FieldSpec(M=8, interpolation="linear")
    True
    >>> FieldSpec(M=4).kwargs()["M"], FieldSpec(interpolation="cubic").kwargs()["interp"]
    (4, 'cubic')
    """

    M: int = 8
    stride: int = 2
    interpolation: Literal["linear", "cubic"] = "linear"
    anchor: Literal["mid", "start"] | int = "mid"
    rotation: Literal["euler", "expmap"] = "euler"

    def __post_init__(self):
        if int(self.M) < 1:
            raise ValueError(f"M={self.M}: the number of segments must be >= 1")
        if int(self.stride) < 1:
            raise ValueError(f"stride={self.stride}: the grid step must be >= 1 px")
        if isinstance(self.anchor, int) and not 0 <= self.anchor <= self.M:
            raise ValueError(f"anchor={self.anchor}: a pose index must lie in [0, M={self.M}]")

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`camera_motion_field` for this spec."""
        return {"M": self.M, "stride": self.stride, "interp": self.interpolation, "anchor": self.anchor,
                "rotation": self.rotation}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FieldSpec:
        """From :meth:`to_dict`'s mapping (e.g. a shard attribute); unknown keys raise ``TypeError``."""
        return cls(**data)


def _resolve_crop(K, crop):
    if crop is None:
        if isinstance(K, Intrinsics):
            return (0, 0, K.width, K.height)
        raise ShapeError("camera_motion_field: K is a bare matrix, so pass crop=(x0, y0, width, height) in "
                         "full-frame pixels (GyroBlur-Synth: gyrobench.gyro.camera.FOURKRD_CROP)")
    if len(crop) != 4:
        raise ShapeError(f"crop must be (x0, y0, width, height), got {crop!r}")
    x0, y0, cw, ch = crop
    if cw <= 0 or ch <= 0:
        raise ShapeError(f"crop width/height must be positive, got {crop!r}")
    return tuple(int(c) for c in crop)


def grid_coordinates(crop, stride: int = 2):
    """Full-frame pixel coordinates of the field's grid: ``u`` (w',) columns and ``v`` (h',) rows, float64."""
    x0, y0, cw, ch = crop
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return np.arange(x0, x0 + cw, stride, dtype=np.float64), np.arange(y0, y0 + ch, stride, dtype=np.float64)


def cmf_shape(crop, stride: int = 2, M: int = 8, layout: str = "hwc") -> tuple[int, int, int]:
    """Shape of the field for ``crop`` = (x0, y0, width, height): (h', w', 2M) or (2M, h', w')."""
    h, w = -(-int(crop[3]) // stride), -(-int(crop[2]) // stride)
    return (h, w, 2 * M) if layout == "hwc" else (2 * M, h, w)


def cmf_homographies(t_ns, w, K, *, M: int = 8, n_intervals: int | None = None, interp: str = "linear",
                     anchor="mid", rotation: str = "euler"):
    """Pose homographies (..., M+1, 3, 3) float64 of the CMF (anchor pose = I) and the anchor index."""
    if M < 1:
        raise ValueError(f"M must be >= 1, got {M}")
    O, _ = window_orientations(t_ns, w, M, n_intervals=n_intervals, interp=interp, rotation=rotation)
    c = anchor_index(anchor, M)
    H = rotation_homographies(K, relative_rotations(O, c))
    H[..., c, :, :] = np.eye(3)
    return H, c


def _centre(H, K):
    """``T^-1 H T`` with T the translation by the principal point: H acting on principal-point-relative px."""
    cx, cy = K[0, 2], K[1, 2]
    T = np.array([[1.0, 0, cx], [0, 1.0, cy], [0, 0, 1.0]])
    Ti = np.array([[1.0, 0, -cx], [0, 1.0, -cy], [0, 0, 1.0]])
    return Ti @ H @ T


def _field_torch(Hc, c, uc, vc, layout, dtype, out, rows: int | None = None):
    """Torch kernel: per block of grid rows, all poses at once.

    ``q[k, r, i, j] = Hc[k, r, 0] * u_j + (Hc[k, r, 1] * v_i + Hc[k, r, 2])`` (outer sums, r = x/y/denominator
    rows), ``p = q[:, :2] / q[:, 2]``, segments ``p[1:] - p[:-1]``. CHW is written in place; HWC goes through a
    small CHW scratch block and one transposing copy per block (cache-resident), which is several times faster
    than 16 strided channel writes over the whole 14.7 MB array; the transpose is ``cv2.transpose`` (issue 11:
    ~8x faster than torch's strided copy of the same block, which halves the HWC field time).
    """
    import torch

    del c  # the anchor pose is the identity; evaluating it gives the grid exactly
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    P = Hc.shape[0]
    M = P - 1
    Ht = torch.from_numpy(Hc).to(tdt)
    u = torch.from_numpy(uc).to(tdt)
    v = torch.from_numpy(vc).to(tdt)
    h, wd = v.shape[0], u.shape[0]
    au = Ht[:, :, 0, None] * u  # (P, 3, w')
    bvc = Ht[:, :, 1, None] * v + Ht[:, :, 2, None]  # (P, 3, h')
    o = torch.from_numpy(out)
    if layout == "chw":
        ov = o.view(M, 2, h, wd)
        R = rows or 32
        for r0 in range(0, h, R):
            r1 = min(h, r0 + R)
            q = au[:, :, None, :] + bvc[:, :, r0:r1, None]  # (P, 3, R, w')
            pxy = q[:, :2] * torch.reciprocal(q[:, 2:3])
            torch.sub(pxy[1:], pxy[:-1], out=ov[:, :, r0:r1])
        return out
    o2 = out.reshape(h * wd, 2 * M)  # a view: out is C-contiguous
    R = rows or 8
    for r0 in range(0, h, R):
        r1 = min(h, r0 + R)
        n = r1 - r0
        q = au[:, :, None, :] + bvc[:, :, r0:r1, None]
        pxy = q[:, :2] * torch.reciprocal(q[:, 2:3])
        s = torch.empty((M, 2, n, wd), dtype=tdt)
        torch.sub(pxy[1:], pxy[:-1], out=s)
        # (2M, n*w') -> (n*w', 2M): OpenCV's blocked transpose is ~8x faster than a strided torch copy here
        cv2.transpose(s.numpy().reshape(2 * M, n * wd), dst=o2[r0 * wd : r1 * wd])
    return out


def _field_numpy(Hc, c, uc, vc, layout, dtype, out):
    u = uc.astype(dtype)
    v = vc.astype(dtype)
    h, wd = v.shape[0], u.shape[0]
    P = Hc.shape[0]
    prev = None
    for k in range(P):
        if k == c:
            px = np.broadcast_to(u[None, :], (h, wd))
            py = np.broadcast_to(v[:, None], (h, wd))
        else:
            Hk = Hc[k].astype(dtype)
            den = 1.0 / (Hk[2, 0] * u[None, :] + (Hk[2, 1] * v + Hk[2, 2])[:, None])
            px = (Hk[0, 0] * u[None, :] + (Hk[0, 1] * v + Hk[0, 2])[:, None]) * den
            py = (Hk[1, 0] * u[None, :] + (Hk[1, 1] * v + Hk[1, 2])[:, None]) * den
        if prev is not None:
            m = k - 1
            if layout == "hwc":
                np.subtract(px, prev[0], out=out[:, :, 2 * m])
                np.subtract(py, prev[1], out=out[:, :, 2 * m + 1])
            else:
                np.subtract(px, prev[0], out=out[2 * m])
                np.subtract(py, prev[1], out=out[2 * m + 1])
        prev = (px, py)
    return out


def field_from_homographies(H, K, crop, *, anchor_idx: int | None = None, stride: int = 2, layout: str = "hwc",
                            dtype=np.float32, out=None, backend: str = "auto"):
    """Evaluate segments ``p_{m+1} - p_m`` of poses ``H`` (P, 3, 3) (anchor->pose, full frame) on the grid.

    ``K`` supplies the principal point used to centre coordinates (any point works mathematically; it only
    improves float32 rounding). Returns (h', w', P-1 pairs) HWC or CHW, see module docstring.
    ``backend``: "torch" (single-threaded kernels, what "auto" picks), "numpy" or "auto".
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    dtype = np.dtype(dtype).type
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 3 or H.shape[1:] != (3, 3) or H.shape[0] < 2:
        raise ShapeError(f"field_from_homographies: expected H (P>=2, 3, 3), got {H.shape}")
    Km = as_K(K)
    M = H.shape[0] - 1
    u, v = grid_coordinates(crop, stride)
    uc, vc = u - Km[0, 2], v - Km[1, 2]
    Hc = _centre(H, Km)
    c = -1 if anchor_idx is None else int(anchor_idx)
    shape = cmf_shape(crop, stride, M, layout)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ShapeError(f"out: expected C-contiguous {shape} {np.dtype(dtype)}, got {out.shape} {out.dtype}")
    if backend == "auto":
        backend = "torch"
    if backend == "torch":
        return _field_torch(Hc, c, uc, vc, layout, dtype, out)
    if backend == "numpy":
        return _field_numpy(Hc, c, uc, vc, layout, dtype, out)
    raise ValueError(f"backend must be 'auto', 'torch' or 'numpy', got {backend!r}")


def camera_motion_field(t_ns, w, K, *, crop=None, M: int = 8, stride: int = 2, interp: str = "linear",
                        anchor="mid", rotation: str = "euler", layout: str = "hwc", dtype=np.float32,
                        n_intervals: int | None = None, backend: str = "auto"):
    """Camera motion field of one gyro window (spec ``gyrodeblurnet.md`` §3.1; module docstring).

    Args:
        t_ns: (S,) int64 timestamps in ns; S >= n_intervals + 1 (default n_intervals = S - 1; official S = 11).
        w: (S, 3) float64 angular velocity in rad/s on the camera axes.
        K: :class:`Intrinsics` or (3, 3) of the full frame (GyroBlur-Synth: ``FOURKRD``, 1920x1080).
        crop: (x0, y0, width, height) in full-frame px; default the whole Intrinsics frame. GyroBlur-Synth uses
            ``FOURKRD_CROP = (320, 180, 1280, 720)``.
        M: number of segments (u_m = m * n_intervals / M raw intervals); stride: grid step in px;
        interp: "linear" (official) | "cubic"; anchor: "mid" (official) | "start" | pose index;
        rotation: "euler" (official) | "expmap"; layout "hwc" | "chw"; dtype float32 | float64.
    Returns:
        (h', w', 2M) or (2M, h', w') array, h' = ceil(height/stride), w' = ceil(width/stride); official defaults
        with ``FOURKRD, crop=FOURKRD_CROP`` give (360, 640, 16) float32.

    Example::

        >>> import numpy as np
        >>> from gyrobench.gyro.camera import FOURKRD, FOURKRD_CROP
        >>> t = np.arange(11, dtype=np.int64) * 4_757_600
        >>> f = camera_motion_field(t, np.zeros((11, 3)), FOURKRD, crop=FOURKRD_CROP)
        >>> f.shape, float(abs(f).max())
        ((360, 640, 16), 0.0)
    """
    t = np.asarray(t_ns)
    if t.ndim != 1:
        raise ShapeError(f"camera_motion_field: t_ns must be (S,), got {t.shape}; use camera_motion_fields for batches")
    crop = _resolve_crop(K, crop)
    H, c = cmf_homographies(t_ns, w, K, M=M, n_intervals=n_intervals, interp=interp, anchor=anchor,
                            rotation=rotation)
    return field_from_homographies(H, K, crop, anchor_idx=c, stride=stride, layout=layout, dtype=dtype,
                                   backend=backend)


def camera_motion_fields(t_ns, w, K, *, crop=None, M: int = 8, stride: int = 2, interp: str = "linear",
                         anchor="mid", rotation: str = "euler", layout: str = "hwc", dtype=np.float32,
                         n_intervals: int | None = None, backend: str = "auto", out=None):
    """Batched :func:`camera_motion_field`: ``t_ns`` (B, S), ``w`` (B, S, 3) -> (B, h', w', 2M) or (B, 2M, h', w').

    The rotations and homographies of all windows are computed in one vectorised pass; each field is then
    evaluated straight into its slice of the output (``out`` may be a preallocated C-contiguous array).
    """
    t = np.asarray(t_ns)
    if t.ndim != 2:
        raise ShapeError(f"camera_motion_fields: t_ns must be (B, S), got {t.shape}")
    crop = _resolve_crop(K, crop)
    H, c = cmf_homographies(t_ns, w, K, M=M, n_intervals=n_intervals, interp=interp, anchor=anchor,
                            rotation=rotation)
    shape = (t.shape[0], *cmf_shape(crop, stride, M, layout))
    if out is None:
        out = np.empty(shape, dtype=np.dtype(dtype))
    elif out.shape != shape:
        raise ShapeError(f"out: expected {shape}, got {out.shape}")
    for b in range(t.shape[0]):
        field_from_homographies(H[b], K, crop, anchor_idx=c, stride=stride, layout=layout, dtype=dtype,
                                out=out[b], backend=backend)
    return out
