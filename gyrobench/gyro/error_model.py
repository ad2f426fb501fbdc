"""Gyro error model: seeded, storable, replayable perturbations that turn a clean field into a noisy one.

Spec ``gyrodeblurnet.md`` §4: the official noisy fields "randomly perturb the rotation center" and add
"Gaussian noise measured from a real stationary phone"; distributions and magnitudes were never released
(§10 item 1). gyrobench's model, with every magnitude an option:

1. **White gyro noise** ``noise (S, 3)`` rad/s, i.i.d. per sample and axis, ``N(0, noise_std)`` with
   ``noise_std = (0.78, 1.14, 0.61)e-3`` rad/s, the std of the stationary tail of ``gyro_test.txt`` (spec §2).
2. **Bias** ``bias (3,)`` rad/s, one draw per image, ``N(0, |b|)`` per axis with ``b = (0.08, 0.22, -1.61)e-3``
   rad/s, the stationary tail's mean (spec §2): the spec's bias is used as the *scale* of a zero-mean draw, since
   a fixed offset would bias every field the same way.
3. **Rotation-centre perturbation** ``center_offset (2,)`` in full-frame pixels: each pose homography becomes
   ``T H T^-1`` with ``T`` the translation by the offset, i.e. the camera rotates about the ray through
   ``c + offset`` instead of the principal point ``c``. This is the pixel-space reading of the lead in the official
   ``real_data/utils.py`` (a 3x3 pixel translation matrix, spec §4) and is the same as moving the principal point
   in ``K`` while keeping the pixel grid. Default ``N(0, 150 px)`` per axis on 4KRD (scale it with the focal
   length for other cameras: ``center_offset_std_px`` is given for fx ~ 2139 and scaled by fx / 2139.03493).
4. **Time offset** ``time_offset_ns`` (int64 scalar) between gyro and exposure clocks: the rates are re-sampled
   (linear interpolation inside the window, held constant beyond its ends) at ``t_i + time_offset_ns``.
   Default ``N(0, 1 ms)``: phone gyro/camera synchronisation is typically accurate to about a millisecond.

Calibration (docs/gyro.md): [T] measured a mean absolute discrepancy of 0.56 px per component between the supplied
*test* fields and fields rebuilt from raw gyro; the test recording shakes ~1.8x harder than the train one (spec §2)
and is not available here. With these defaults, on 200 random 11-sample windows of ``gyro_train.txt`` (4KRD,
1280x720 crop) the discrepancy is 0.30-0.32 px, and 0.54-0.58 px with the rates scaled by 1.8 as a test-strength
proxy (two draws of windows; ``benchmarks/bench_cmf.py`` re-measures it).
The centre offset and the time offset dominate; noise + bias alone give only ~0.01 px (as spec §2 predicts).

A zero draw (:meth:`ErrorDraw.zeros`) reproduces the clean field bit for bit: every perturbation is skipped or adds
exact zeros. Draws are plain arrays (:meth:`ErrorDraw.to_arrays` / :meth:`ErrorDraw.from_arrays`) so a dataset
can store them next to the gyro window and recompute the noisy field exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from .camera import Intrinsics, as_K
from .cmf import camera_motion_field

__all__ = ["GyroErrorModel", "ErrorDraw", "noisy_camera_motion_field", "perturb_window", "perturb_K",
           "field_pair", "mean_abs_discrepancy", "NOISE_STD", "BIAS_SCALE", "FX_4KRD"]

#: rad/s, std of the stationary tail of gyro_test.txt (spec §2)
NOISE_STD = (0.78e-3, 1.14e-3, 0.61e-3)
#: rad/s, |mean| of the stationary tail of gyro_test.txt (spec §2), used as the std of the per-image bias
BIAS_SCALE = (0.08e-3, 0.22e-3, 1.61e-3)
FX_4KRD = 2139.03493


@dataclass(frozen=True)
class ErrorDraw:
    """One perturbation: ``bias`` (3,) rad/s, ``noise`` (S, 3) rad/s, ``center_offset`` (2,) px (x, y, full frame),
    ``time_offset_ns`` int64 (gyro clock minus exposure clock)."""

    bias: np.ndarray
    noise: np.ndarray
    center_offset: np.ndarray
    time_offset_ns: np.int64

    def __post_init__(self):
        b = np.asarray(self.bias, dtype=np.float64).reshape(-1)
        n = np.asarray(self.noise, dtype=np.float64)
        c = np.asarray(self.center_offset, dtype=np.float64).reshape(-1)
        if b.shape != (3,) or n.ndim != 2 or n.shape[1] != 3 or c.shape != (2,):
            raise ShapeError(f"ErrorDraw: expected bias (3,), noise (S, 3), center_offset (2,), got {b.shape}, "
                             f"{n.shape}, {c.shape}")
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "noise", n)
        object.__setattr__(self, "center_offset", c)
        object.__setattr__(self, "time_offset_ns", np.int64(self.time_offset_ns))

    @classmethod
    def zeros(cls, n_samples: int = 11) -> ErrorDraw:
        return cls(np.zeros(3), np.zeros((n_samples, 3)), np.zeros(2), np.int64(0))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"bias", "noise", "center_offset", "time_offset_ns"}`` as numpy arrays (for HDF5 / npz)."""
        return {"bias": self.bias.copy(), "noise": self.noise.copy(), "center_offset": self.center_offset.copy(),
                "time_offset_ns": np.asarray(self.time_offset_ns, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, d) -> ErrorDraw:
        """Inverse of :meth:`to_arrays`; also accepts the keys with an ``err_`` prefix (shard layout)."""
        def get(k):
            for key in (k, f"err_{k}"):
                if key in d:
                    return np.asarray(d[key])
            raise KeyError(f"ErrorDraw.from_arrays: missing '{k}' (or 'err_{k}'); keys present: {sorted(d)}")
        return cls(get("bias"), get("noise"), get("center_offset"), np.int64(get("time_offset_ns")))


@dataclass(frozen=True)
class GyroErrorModel:
    """Magnitudes of the error model (module docstring). All stds; set one to 0 to switch that term off."""

    noise_std: tuple[float, float, float] = NOISE_STD
    bias_scale: tuple[float, float, float] = BIAS_SCALE
    center_offset_std_px: float = 150.0
    time_offset_std_ns: float = 1.0e6
    reference_fx: float = FX_4KRD

    def __post_init__(self):
        for name in ("noise_std", "bias_scale"):
            v = tuple(float(x) for x in getattr(self, name))
            if len(v) != 3 or min(v) < 0:
                raise ValueError(f"GyroErrorModel.{name}: expected 3 non-negative values (rad/s), got {v}")
            object.__setattr__(self, name, v)
        if self.center_offset_std_px < 0 or self.time_offset_std_ns < 0:
            raise ValueError("GyroErrorModel: center_offset_std_px and time_offset_std_ns must be >= 0")

    @classmethod
    def clean(cls) -> GyroErrorModel:
        """All magnitudes zero: draws are zero and the noisy field equals the clean one."""
        return cls((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0, 0.0)

    def draw(self, rng: np.random.Generator, n_samples: int = 11, K=None) -> ErrorDraw:
        """One draw for a window of ``n_samples``. ``K`` (Intrinsics or 3x3) scales the centre offset by
        ``fx / reference_fx``; without it the offset is in 4KRD pixels. Order of RNG use is fixed (bias, noise,
        centre, time) so a seed reproduces the draw."""
        scale = 1.0 if K is None else float(as_K(K)[0, 0]) / self.reference_fx
        bias = rng.normal(0.0, 1.0, 3) * np.asarray(self.bias_scale)
        noise = rng.normal(0.0, 1.0, (int(n_samples), 3)) * np.asarray(self.noise_std)
        center = rng.normal(0.0, 1.0, 2) * (self.center_offset_std_px * scale)
        dt = np.int64(np.round(rng.normal(0.0, 1.0) * self.time_offset_std_ns))
        return ErrorDraw(bias, noise, center, dt)


def perturb_window(t_ns, w, draw: ErrorDraw) -> np.ndarray:
    """Rates (S, 3) rad/s the noisy field integrates: ``w(t_i + time_offset) + bias + noise_i``."""
    t = np.asarray(t_ns, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    if draw.noise.shape != w.shape:
        raise ShapeError(f"perturb_window: draw.noise is {draw.noise.shape} but the window is {w.shape}; draw "
                         "with n_samples equal to the window length")
    if draw.time_offset_ns != 0:
        tr = (t - t[0]).astype(np.float64)
        tq = tr + float(draw.time_offset_ns)
        w = np.stack([np.interp(tq, tr, w[:, k]) for k in range(3)], axis=-1)
    return w + draw.bias + draw.noise


def perturb_K(K, draw: ErrorDraw) -> np.ndarray:
    """``T K`` with T the translation by ``draw.center_offset``: ``T K R K^-1 T^-1 = (TK) R (TK)^-1``."""
    Km = as_K(K).copy()
    Km[0, 2] += draw.center_offset[0]
    Km[1, 2] += draw.center_offset[1]
    return Km


def noisy_camera_motion_field(t_ns, w, K, draw: ErrorDraw, **cmf_kwargs):
    """The field of the perturbed window/camera: :func:`camera_motion_field` of :func:`perturb_window` with
    :func:`perturb_K`. ``cmf_kwargs`` as for the clean field; ``crop`` defaults to the Intrinsics frame."""
    if cmf_kwargs.get("crop") is None and isinstance(K, Intrinsics):
        cmf_kwargs["crop"] = (0, 0, K.width, K.height)
    return camera_motion_field(t_ns, perturb_window(t_ns, w, draw), perturb_K(K, draw), **cmf_kwargs)


def field_pair(t_ns, w, K, model: GyroErrorModel, rng: np.random.Generator, **cmf_kwargs):
    """``(clean, noisy, draw)`` for one window: a training pair of fields (spec §4, §6.1) and its replayable draw."""
    draw = model.draw(rng, len(np.asarray(t_ns)), K)
    if cmf_kwargs.get("crop") is None and isinstance(K, Intrinsics):
        cmf_kwargs["crop"] = (0, 0, K.width, K.height)
    clean = camera_motion_field(t_ns, w, K, **cmf_kwargs)
    return clean, noisy_camera_motion_field(t_ns, w, K, draw, **cmf_kwargs), draw


def mean_abs_discrepancy(t_ns, w, K, model: GyroErrorModel, seed: int = 0, **cmf_kwargs) -> dict:
    """Mean absolute clean-vs-noisy difference per field component over windows ``t_ns`` (B, S), ``w`` (B, S, 3).

    Returns ``{"mean_abs_px", "max_abs_px", "per_window": (B,)}``, the statistic [T] reports (spec §3.3 item 7).
    """
    rng = np.random.default_rng(seed)
    t_ns = np.asarray(t_ns)
    per = np.empty(t_ns.shape[0])
    mx = 0.0
    for b in range(t_ns.shape[0]):
        clean, noisy, _ = field_pair(t_ns[b], w[b], K, model, rng, dtype=np.float64, **cmf_kwargs)
        d = np.abs(noisy - clean)
        per[b] = d.mean()
        mx = max(mx, float(d.max()))
    return {"mean_abs_px": float(per.mean()), "max_abs_px": mx, "per_window": per}
