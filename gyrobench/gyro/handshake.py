"""Synthetic hand-shake generator fitted to gyro recordings (spec ``gyrodeblurnet.md`` §2).

The shared recording (``gyro_train.txt``) may not be redistributed, so gyrobench ships only a *fitted model*:
a stationary, zero-mean-plus-offset, 3-axis Gaussian process whose full 3x3 cross-spectral density matrix
S(f) is the Welch estimate of the recording (per-axis PSDs *and* cross-axis coherence/phase).

Conventions
-----------
- Angular velocity in rad/s, body axes as recorded (x, y, z), timestamps int64 nanoseconds.
- ``S(f)`` is the **one-sided** cross-spectral density in (rad/s)^2/Hz (``scipy.signal.csd`` with
  ``scaling="density"``), so ``sum_k diag(S(f_k)) * df`` is the per-axis variance of the mean-removed rate.
- The model stores the lower Cholesky factor ``L(f_k)`` with ``L L^H = S`` on the Welch grid
  (``nperseg`` bins of ``rate_hz / nperseg`` Hz; 0.205 Hz for the default 1024 at 210.19 Hz, spec §2).

Fit (:func:`fit_handshake`)
  1. resample the recording to a uniform grid at its median sample rate (linear interpolation of the rates;
     this also bridges the recording's 25.6 ms gap, spec §2 "Gap handling");
  2. remove the per-axis mean (stored as ``mean_rad_s``);
  3. Welch cross-spectra (Hann window, ``nperseg``, 50 % overlap), Cholesky per frequency bin.

Sampling (:meth:`HandshakeModel.sample`)
  Spectral synthesis: complex white Gaussian noise ``z_k`` per rfft bin, coloured by ``L(f_k)`` (linearly
  interpolated onto the bins of the output length), scaled so that the output variance is ``∫ S df``,
  inverse rfft, plus the stored mean. The FFT buffer is at least 4096 samples long and the first ``n``
  samples are returned, so short windows (e.g. 11 samples) still carry the low-frequency shake. Frequencies
  above the fitted Nyquist get no power. Output is deterministic per ``(n_samples, seed, rate_hz)``.

What the model does **not** reproduce: non-stationarity of the recording (its 20 % blocks differ by up to
±40 % in x/z std, see ``docs/handshake.md``), the timestamp jitter (samples are exactly uniform) and
non-Gaussian amplitude statistics. The blur-extent distribution of 11-sample windows nevertheless matches
(median 55 px / p95 131 px on the recording with the 4KRD intrinsics, spec §2); tests check it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..assets import handshake_dir
from ..errors import GyroFormatError
from ..io import write_text_atomic
from ..log import get_logger
from ..provenance import sha256_file
from .recording import GyroRecording, load_gyro, validate_gyro

log = get_logger("handshake")

FORMAT = "gyrobench-handshake/1"
DEFAULT_MODEL_FILE = "gyro_train_fit80.json"
#: frequency bands of spec §2's power-share table, Hz (last band open-ended)
SPEC_BANDS_HZ = ((0.0, 1.0), (1.0, 3.0), (3.0, 7.0), (7.0, 13.0), (13.0, 25.0), (25.0, np.inf))
#: 4KRD intrinsics of GyroBlur-Synth (spec §1.1), for blur-extent statistics
FOURKRD_K = np.array([[2139.03493, 0.0, 960.0], [0.0, 2133.82853, 540.0], [0.0, 0.0, 1.0]])
_MIN_FFT = 4096


def _r6(a) -> list:
    """Round to 7 significant digits for compact, deterministic JSON."""
    return [float(f"{v:.7g}") for v in np.asarray(a, dtype=np.float64).ravel()]


@dataclass(frozen=True)
class HandshakeModel:
    """A fitted 3-axis Gaussian hand-shake model (see module docstring). JSON-able via :meth:`to_dict`.

    Attributes:
        name: short identifier, recorded in the ``source`` of sampled recordings.
        rate_hz: sample rate of the fitted (resampled) recording, Hz; default output rate.
        mean_rad_s: (3,) per-axis mean rate, rad/s.
        freqs_hz: (F,) Welch frequency grid, Hz (0 .. rate/2).
        chol: (F, 3, 3) complex128 lower Cholesky factor of the one-sided CSD, (rad/s)/sqrt(Hz).
        provenance: source file, its sha256, the samples used, fit settings, date, gyrobench version.
    """

    name: str
    rate_hz: float
    mean_rad_s: np.ndarray
    freqs_hz: np.ndarray
    chol: np.ndarray
    provenance: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ spectra
    def csd(self) -> np.ndarray:
        """(F, 3, 3) complex one-sided cross-spectral density S = L L^H, (rad/s)^2/Hz."""
        return self.chol @ np.conj(np.swapaxes(self.chol, -1, -2))

    def psd(self) -> np.ndarray:
        """(F, 3) per-axis one-sided PSD, (rad/s)^2/Hz."""
        return np.real(np.einsum("fii->fi", self.csd()))

    def std(self) -> np.ndarray:
        """(3,) model standard deviation per axis, rad/s (trapezoid-free Welch sum: sum S df)."""
        df = self.freqs_hz[1] - self.freqs_hz[0]
        return np.sqrt(self.psd().sum(0) * df)

    # ----------------------------------------------------------------- sampling
    def sample_rates(
        self, n_samples: int, seed: int | np.random.Generator, rate_hz: float | None = None
    ) -> np.ndarray:
        """(n_samples, 3) float64 angular velocity, rad/s, uniformly sampled at ``rate_hz`` (default the fit rate)."""
        n = int(n_samples)
        if n < 2:
            raise ValueError(f"n_samples must be >= 2, got {n_samples}")
        rate = float(self.rate_hz if rate_hz is None else rate_hz)
        if not np.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        nfft = max(n, _MIN_FFT)
        nfft += nfft % 2
        fk = np.fft.rfftfreq(nfft, d=1.0 / rate)
        # colouring matrix on the output bins: linear interpolation of L, zero outside the fitted band
        flat = self.chol.reshape(len(self.freqs_hz), 9)
        Lk = np.empty((len(fk), 9), dtype=np.complex128)
        for j in range(9):  # 9 matrix entries, vectorised over frequency
            Lk[:, j] = np.interp(fk, self.freqs_hz, flat[:, j].real, right=0.0) + 1j * np.interp(
                fk, self.freqs_hz, flat[:, j].imag, right=0.0
            )
        Lk = Lk.reshape(len(fk), 3, 3)
        z = (rng.standard_normal((len(fk), 3)) + 1j * rng.standard_normal((len(fk), 3))) / np.sqrt(2.0)
        X = np.einsum("fij,fj->fi", Lk, z)
        # var(irfft) = 2/nfft^2 * sum_{k>0} E|X_k|^2 must equal sum_k S_k df  =>  scale nfft*sqrt(df/2)
        df = rate / nfft
        X *= nfft * np.sqrt(df / 2.0)
        X[0] = 0.0  # the mean is added back below
        y = np.fft.irfft(X, n=nfft, axis=0)[:n]
        return y + self.mean_rad_s[None, :]

    def sample(self, n_samples: int, seed: int = 0, rate_hz: float | None = None, t0_ns: int = 0):
        """A synthetic :class:`GyroRecording` of ``n_samples`` samples.

        Timestamps are int64 ns ``t0_ns + round(k * 1e9 / rate_hz)`` (uniform, no jitter); rates float64 rad/s;
        ``R_imu_to_cam = I``; ``source = "synthetic:handshake:<name>:seed=<seed>"``. Deterministic per seed.
        The rates are the model's own: a recipe's hand-shake ``strength`` (the fitted model's 11-sample windows
        have about half the blur of the official GyroBlur-Synth test windows, median blur path 62 vs 117 px at
        fx 2139, docs/handshake.md, so ``strength: 1.9`` approximates the test strength) is applied where the
        window is taken, :meth:`gyrobench.builder.sources.GyroWindowSource.window`, for every gyro source alike.

        >>> rec = analytic_model_for_doctest().sample(11, seed=0)
        >>> rec.w.shape, rec.t_ns.dtype.name
        ((11, 3), 'int64')
        """
        rate = float(self.rate_hz if rate_hz is None else rate_hz)
        w = self.sample_rates(n_samples, seed, rate)
        t_ns = int(t0_ns) + np.round(np.arange(int(n_samples)) * (1e9 / rate)).astype(np.int64)
        return GyroRecording(t_ns=t_ns, w=w, R_imu_to_cam=np.eye(3),
                             source=f"synthetic:handshake:{self.name}:seed={seed}")

    # ---------------------------------------------------------------------- I/O
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "name": self.name,
            "kind": "gaussian-csd",
            "description": (
                "Stationary 3-axis Gaussian angular-velocity model: one-sided cross-spectral density "
                "S(f) = L L^H, (rad/s)^2/Hz, plus a per-axis mean. Synthetic; fitted statistics only, "
                "no recorded samples."
            ),
            "rate_hz": float(f"{self.rate_hz:.10g}"),
            "mean_rad_s": _r6(self.mean_rad_s),
            "freqs_hz": _r6(self.freqs_hz),
            "chol_lower_real": [
                _r6(self.chol[k].real[np.tril_indices(3)]) for k in range(len(self.freqs_hz))
            ],
            "chol_lower_imag": [
                _r6(self.chol[k].imag[np.tril_indices(3)]) for k in range(len(self.freqs_hz))
            ],
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> HandshakeModel:
        if not isinstance(d, dict):
            raise GyroFormatError(
                f"{source}: expected a JSON object with 'format': {FORMAT!r}, got "
                f"{type(d).__name__}; write it with `gyrobench handshake fit`"
            )
        try:
            if d.get("format") != FORMAT:
                raise GyroFormatError(
                    f"{source}: field 'format' is {d.get('format')!r}, expected {FORMAT!r}; "
                    "write it with `gyrobench handshake fit`"
                )
            f = np.asarray(d["freqs_hz"], dtype=np.float64)
            re = np.asarray(d["chol_lower_real"], dtype=np.float64)
            im = np.asarray(d["chol_lower_imag"], dtype=np.float64)
            if re.shape != (len(f), 6) or im.shape != (len(f), 6) or len(f) < 2:
                raise GyroFormatError(
                    f"{source}: fields 'chol_lower_real/imag' must be ({len(f)}, 6) lists; "
                    f"got {re.shape} and {im.shape}; refit the model"
                )
            chol = np.zeros((len(f), 3, 3), dtype=np.complex128)
            ii, jj = np.tril_indices(3)
            chol[:, ii, jj] = re + 1j * im
            mean = np.asarray(d["mean_rad_s"], dtype=np.float64)
            if mean.shape != (3,):
                raise GyroFormatError(f"{source}: field 'mean_rad_s' must have 3 values; refit the model")
            return cls(
                name=str(d["name"]),
                rate_hz=float(d["rate_hz"]),
                mean_rad_s=mean,
                freqs_hz=f,
                chol=chol,
                provenance=dict(d.get("provenance", {})),
            )
        except KeyError as exc:
            raise GyroFormatError(
                f"{source}: missing field {exc.args[0]!r}; refit with `gyrobench handshake fit`"
            ) from None

    def save(self, path: str | Path) -> Path:
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> HandshakeModel:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise GyroFormatError(
                f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                "pass a model written by `gyrobench handshake fit`"
            ) from None
        return cls.from_dict(d, source=str(path))


# ---------------------------------------------------------------------------- fitting
def resample_uniform(
    t_ns: np.ndarray, w: np.ndarray, rate_hz: float | None = None
) -> tuple[np.ndarray, float]:
    """Linear interpolation of ``w`` (N,3) rad/s onto a uniform grid at ``rate_hz`` (default 1e9/median dt).

    Returns ``(w_uniform (M,3) float64, rate_hz)``; the grid starts at ``t_ns[0]``.
    """
    t = np.asarray(t_ns, dtype=np.int64)
    rate = float(rate_hz) if rate_hz else 1e9 / float(np.median(np.diff(t)))
    rel = (t - t[0]).astype(np.float64)
    grid = np.arange(0.0, rel[-1], 1e9 / rate)
    wu = np.stack([np.interp(grid, rel, w[:, i]) for i in range(3)], axis=1)
    return wu, rate


def _check_arrays(t_ns, w, source: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t_ns)
    w = np.asarray(w, dtype=np.float64)
    validate_gyro(t, w, source)  # shape, finite rates, strictly increasing ns timestamps, rad/s
    return t.astype(np.int64), w


def fit_handshake(
    t_ns,
    w,
    *,
    name: str = "handshake",
    fraction: float = 1.0,
    nperseg: int = 1024,
    source: str = "<arrays>",
    source_sha256: str | None = None,
) -> HandshakeModel:
    """Fit a :class:`HandshakeModel` to a recording (module docstring: method).

    Args:
        t_ns: (N,) int64 timestamps, ns. w: (N,3) angular velocity, rad/s.
        fraction: use only the first ``fraction`` of the samples (the rest is held back for validation).
        nperseg: Welch segment length in samples (1024 = 0.205 Hz bins at 210 Hz, spec §2).
        source, source_sha256: recorded in the provenance (never the samples themselves).
    """
    from scipy import signal

    t, w = _check_arrays(t_ns, w, source)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n_used = int(round(len(t) * fraction))
    t, w = t[:n_used], w[:n_used]
    wu, rate = resample_uniform(t, w)
    if len(wu) < 2 * nperseg:
        raise GyroFormatError(
            f"{source}: {len(wu)} samples after resampling; the fit needs at least "
            f"{2 * nperseg} (2 Welch segments of {nperseg}); use a longer recording or --nperseg"
        )
    mean = wu.mean(axis=0)
    x = wu - mean
    f, _ = signal.welch(x[:, 0], fs=rate, nperseg=nperseg)
    S = np.empty((len(f), 3, 3), dtype=np.complex128)
    for i in range(3):
        for j in range(i, 3):
            _, S[:, i, j] = signal.csd(x[:, i], x[:, j], fs=rate, nperseg=nperseg)
            S[:, j, i] = np.conj(S[:, i, j])
    # scipy's csd(x, y) = conj(X) Y; the covariance convention E[x x^H] needs its conjugate
    S = np.conj(S)
    eps = 1e-12 * float(np.real(np.trace(S, axis1=1, axis2=2)).max())
    chol = np.linalg.cholesky(S + eps * np.eye(3))
    prov = {
        "source_file": Path(source).name,
        "source_sha256": source_sha256,
        "samples_used": [0, n_used],
        "samples_total": int(len(t_ns)),
        "fraction": fraction,
        "fit": {
            "method": "welch-csd+cholesky",
            "nperseg": nperseg,
            "window": "hann",
            "overlap": 0.5,
            "resample": "linear to uniform grid at 1e9/median(dt)",
            "mean_removed": True,
        },
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
        "gyrobench_version": __version__,
        "note": "synthetic generator fitted to the recording; the recorded samples are not included",
    }
    model = HandshakeModel(name=name, rate_hz=rate, mean_rad_s=mean, freqs_hz=f, chol=chol, provenance=prov)
    log.info(
        "handshake fit: %d samples at %.2f Hz, std (rad/s) %s",
        n_used,
        rate,
        np.array2string(model.std(), precision=3),
    )
    return model


def fit_handshake_file(path: str | Path, **kw) -> HandshakeModel:
    """Load a ``timestamp_ns wx wy wz`` file (:func:`gyrobench.gyro.recording.load_gyro`) and fit it."""
    path = Path(path)
    rec = load_gyro(path)
    kw.setdefault("name", path.stem)
    return fit_handshake(rec.t_ns, rec.w, source=str(path), source_sha256=sha256_file(path), **kw)


def load_default_handshake() -> HandshakeModel:
    """The shipped model fitted to the first 80 % of ``gyro_train.txt`` (see ``docs/handshake.md``)."""
    return HandshakeModel.load(handshake_dir() / DEFAULT_MODEL_FILE)


def write_gyro_text(path: str | Path, rec) -> Path:
    """Write a recording as text lines ``t_ns wx wy wz`` (int ns, rad/s with 9 significant digits)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.asarray(rec.t_ns, dtype=np.int64)
    w = np.asarray(rec.w, dtype=np.float64)
    lines = [f"{ti} {a:.9e} {b:.9e} {c:.9e}" for ti, (a, b, c) in zip(t.tolist(), w.tolist())]
    return write_text_atomic(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- analytic
#: spec §2 train figures: per-axis std (rad/s) and spectral peaks (Hz) with power weights
ANALYTIC_STD = (0.459, 0.616, 0.338)
ANALYTIC_PEAKS = (
    ((3.08, 0.8), (9.65, 0.2)),
    ((3.28, 0.8), (7.18, 0.2)),
    ((2.46, 0.5), (1.23, 0.2), (2.87, 0.2), (8.42, 0.1)),
)


def analytic_handshake(
    n_samples: int = 2048, rate_hz: float = 210.19, *, phase_seed: int = 0, t0_ns: int = 0, scale: float = 1.0
):
    """A deterministic **synthetic** hand-shake: a few sinusoids per axis (not a recording, not a fit).

    Axis a is ``sum_j A_aj sin(2 pi f_aj t + phi_aj)`` with the spec §2 train peaks ``f_aj`` (x 3.08 + 9.65 Hz,
    y 3.28 + 7.18 Hz, z 2.46 + 1.23 + 2.87 + 8.42 Hz), power weights ``p_aj`` and amplitudes
    ``A_aj = scale * std_a * sqrt(2 p_aj)`` so that the per-axis std is ``scale * (0.459, 0.616, 0.338)`` rad/s
    (spec §2) over whole periods. Phases come from ``default_rng(phase_seed)``. Useful in tests and the demo.
    Returns a :class:`GyroRecording` with ``source = "synthetic:analytic-sinusoids:..."``.
    """
    n = int(n_samples)
    rng = np.random.default_rng(phase_seed)
    t_s = np.arange(n) / float(rate_hz)
    w = np.zeros((n, 3))
    for a, peaks in enumerate(ANALYTIC_PEAKS):
        for f, p in peaks:
            amp = scale * ANALYTIC_STD[a] * np.sqrt(2.0 * p)
            w[:, a] += amp * np.sin(2 * np.pi * f * t_s + rng.uniform(0, 2 * np.pi))
    t_ns = int(t0_ns) + np.round(t_s * 1e9).astype(np.int64)
    return GyroRecording(
        t_ns=t_ns,
        w=w,
        R_imu_to_cam=np.eye(3),
        source=f"synthetic:analytic-sinusoids:phase_seed={phase_seed}:scale={scale}",
    )


def analytic_model_for_doctest() -> HandshakeModel:
    """A tiny flat-spectrum model (white noise 0.5 rad/s per axis up to 10 Hz), for doctests only."""
    f = np.linspace(0.0, 105.0, 64)
    level = np.where(f <= 10.0, np.sqrt(0.25 / 10.0), 0.0)
    chol = np.zeros((len(f), 3, 3), dtype=np.complex128)
    chol[:, 0, 0] = chol[:, 1, 1] = chol[:, 2, 2] = level
    return HandshakeModel("doctest-white", 210.0, np.zeros(3), f, chol, {"note": "doctest only"})


# ------------------------------------------------------------------------- statistics
def band_power_shares(w: np.ndarray, rate_hz: float, bands=SPEC_BANDS_HZ, nperseg: int = 1024) -> np.ndarray:
    """(3, len(bands)) share of each axis' power (mean removed, Welch) in each band [lo, hi) Hz (spec §2)."""
    from scipy import signal

    x = np.asarray(w, dtype=np.float64)
    x = x - x.mean(axis=0)
    f, P = signal.welch(x, fs=rate_hz, nperseg=min(nperseg, len(x)), axis=0)
    tot = P.sum(axis=0)
    return np.stack([P[(f >= lo) & (f < hi)].sum(axis=0) / tot for lo, hi in bands], axis=1)


def _euler_inverse(a: np.ndarray) -> np.ndarray:
    """Rx(-ax) Ry(-ay) Rz(-az) for (...,3) angles, rad (spec §3.1 step 2)."""
    ax, ay, az = -a[..., 0], -a[..., 1], -a[..., 2]
    c, s = np.cos, np.sin
    o, z = np.ones_like(ax), np.zeros_like(ax)
    rx = np.stack([o, z, z, z, c(ax), -s(ax), z, s(ax), c(ax)], -1).reshape(ax.shape + (3, 3))
    ry = np.stack([c(ay), z, s(ay), z, o, z, -s(ay), z, c(ay)], -1).reshape(ax.shape + (3, 3))
    rz = np.stack([c(az), -s(az), z, s(az), c(az), z, z, z, o], -1).reshape(ax.shape + (3, 3))
    return rx @ ry @ rz


def window_blur_extents(t_ns, w, K=FOURKRD_K, point=None, samples: int = 11) -> np.ndarray:
    """Diameter (px) of one point's trajectory for every window of ``samples`` consecutive samples (stride 1).

    Spec §2 "Blur extent": rectangle-rule increments a_i = w_i * dt_i, official Euler-product rotation
    (Rx(-ax) Ry(-ay) Rz(-az)), orientations left-accumulated, exact homography K O K^-1 applied to ``point``
    (default the principal point), diameter = largest distance between any two of the ``samples`` positions.
    With the 4KRD K on the whole ``gyro_train.txt`` this gives median 55.1 px, p95 131.4 px (spec §2).
    Returns (N - samples + 1,) float64 px. Vectorised over windows; loops only over the ``samples`` steps.
    """
    t = np.asarray(t_ns, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    nw = len(t) - samples + 1
    if nw < 1:
        raise ValueError(f"need at least {samples} samples, got {len(t)}")
    dt = np.diff(t).astype(np.float64) * 1e-9
    R = _euler_inverse(w[:-1] * dt[:, None])
    x = np.array([K[0, 2], K[1, 2], 1.0]) if point is None else np.array([point[0], point[1], 1.0])
    ray = np.linalg.solve(K, x)
    O = np.broadcast_to(np.eye(3), (nw, 3, 3)).copy()
    pts = [np.broadcast_to(ray, (nw, 3))]
    for k in range(samples - 1):
        O = R[k : k + nw] @ O
        pts.append(O @ ray)
    P = np.einsum("ij,nkj->nki", K, np.stack(pts, axis=1))
    P = P[..., :2] / P[..., 2:3]
    return np.linalg.norm(P[:, :, None, :] - P[:, None, :, :], axis=-1).max(axis=(1, 2))


def handshake_statistics(t_ns, w, K=FOURKRD_K) -> dict:
    """Summary used to validate a generator against a recording (spec §2 quantities).

    Keys: ``std`` (3,) rad/s, ``speed_median`` rad/s (norm of w), ``band_shares`` (3, 6),
    ``extent_median_px`` / ``extent_p95_px`` (11-sample window diameters at the principal point of ``K``).
    Band shares use the uniformly resampled rates.
    """
    t = np.asarray(t_ns, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    wu, rate = resample_uniform(t, w)
    ext = window_blur_extents(t, w, K)
    return {
        "std": w.std(axis=0),
        "speed_median": float(np.median(np.linalg.norm(w, axis=1))),
        "band_shares": band_power_shares(wu, rate),
        "extent_median_px": float(np.median(ext)),
        "extent_p95_px": float(np.percentile(ext, 95)),
    }


def _asdict(model: HandshakeModel) -> dict:  # pragma: no cover - convenience for debugging
    return dataclasses.asdict(model)
