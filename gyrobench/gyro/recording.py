"""Gyro recordings: read, validate, window and resample ``timestamp_ns wx wy wz`` text files.

Format (spec ``gyrodeblurnet.md`` §1.1, §2): one sample per line, whitespace-separated, ``timestamp_ns`` an
integer in nanoseconds (any epoch, e.g. device boot time) and ``wx wy wz`` the angular velocity in **rad/s** on
the gyro's body axes. Blank lines and lines starting with ``#`` are ignored.

:class:`GyroRecording` keeps the raw axes plus an explicit ``R_imu_to_cam`` (3x3, default identity, the
GyroBlur-Synth convention: no axis remap, spec §3.1 step 2); :attr:`GyroRecording.w_cam` gives the rates on the
camera axes, ``w_cam = w @ R_imu_to_cam.T``.

Validation (:func:`validate_gyro`) raises :class:`~gyrobench.errors.GyroFormatError` naming the file, the line
and the fix for: non-finite values, unsorted or duplicate timestamps, timestamps in seconds/ms/us instead of
ns, rates in degrees instead of radians (|w| > 35 rad/s sustained over 5 samples: more than any phone gyro's
2000 deg/s range), too few samples. Gaps (intervals longer than 1.5x the median) are not errors; they are listed
by :meth:`GyroRecording.gaps` and logged at load (the released train recording has one of 25.6 ms, spec §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GyroFormatError
from ..log import get_logger

__all__ = ["GyroRecording", "Gap", "load_gyro", "parse_gyro_text", "validate_gyro", "MAX_PLAUSIBLE_RATE", "MAX_SENSOR_RATE",
           "R_GYROBLUR_REAL"]

log = get_logger("gyro")

#: rad/s; 2000 deg/s = 34.9 rad/s is the largest full-scale range of phone MEMS gyros.
MAX_PLAUSIBLE_RATE = 35.0
#: ns; a median sample interval below 10 us (above 100 kHz) means the timestamps are not nanoseconds.
MIN_PLAUSIBLE_DT_NS = 10_000
#: rad/s; no gyroscope measures this (consumer MEMS gyros saturate at 35-70 rad/s, 2000-4000 deg/s; a hand
#: never turns a camera at 30 revolutions per second): a sample above it is a corrupt value, refused
MAX_SENSOR_RATE = 200.0
#: ns; a median interval above 1 s is not a gyro stream either.
MAX_PLAUSIBLE_DT_NS = 1_000_000_000
GAP_FACTOR = 1.5
#: ``R_imu_to_cam`` reproducing the official GyroBlur-Real (Galaxy S22) convention (spec §3.4): the real-data code
#: rotates by ``Rx(-x_raw) Ry(+y_raw) Rz(+z_raw)`` per increment; with ``w_cam = diag(1, -1, -1) w_raw`` the
#: synthetic convention ``Rx(-x) Ry(-y) Rz(-z)`` gives exactly that. (A rotation by pi about x, det = +1.)
R_GYROBLUR_REAL = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Gap:
    """An interval longer than ``GAP_FACTOR`` x the median: between samples ``index`` and ``index + 1``."""

    index: int
    t_ns: int
    size_ns: int
    missing_samples: float
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else f"sample {self.index}"
        return (f"gap of {self.size_ns / 1e6:.2f} ms after {where} (interval index {self.index}, "
                f"~{self.missing_samples:.1f} samples missing)")


@dataclass(frozen=True, eq=False)
class GyroRecording:
    """A gyro stream: ``t_ns`` int64 (N,), ``w`` float64 (N, 3) rad/s on body axes, ``R_imu_to_cam`` (3, 3).

    ``source`` names where it came from (a path or a description); ``lines`` optionally maps each sample to its
    1-based line number in ``source`` (for error messages).
    """

    t_ns: np.ndarray
    w: np.ndarray
    R_imu_to_cam: np.ndarray = field(default_factory=lambda: np.eye(3))
    source: str = "<memory>"
    lines: np.ndarray | None = None

    def __post_init__(self):
        t = np.ascontiguousarray(self.t_ns, dtype=np.int64)
        w = np.ascontiguousarray(self.w, dtype=np.float64)
        R = np.ascontiguousarray(self.R_imu_to_cam, dtype=np.float64)
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
            raise GyroFormatError(f"{self.source}: R_imu_to_cam must be a 3x3 rotation matrix, got {R.tolist()}")
        object.__setattr__(self, "t_ns", t)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "R_imu_to_cam", R)
        for a in (t, w, R):
            a.setflags(write=False)

    # -- basic properties -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def w_cam(self) -> np.ndarray:
        """(N, 3) rates on the camera axes (x right, y down, z forward): ``w @ R_imu_to_cam.T``."""
        if np.array_equal(self.R_imu_to_cam, np.eye(3)):
            return self.w
        return self.w @ self.R_imu_to_cam.T

    @property
    def dt_ns(self) -> np.ndarray:
        return np.diff(self.t_ns)

    @property
    def rate_hz(self) -> float:
        """Sample rate from the median interval."""
        return 1e9 / float(np.median(self.dt_ns))

    @property
    def duration_s(self) -> float:
        return float(self.t_ns[-1] - self.t_ns[0]) * 1e-9

    def _line(self, i: int) -> int | None:
        return int(self.lines[i]) if self.lines is not None and 0 <= i < len(self.lines) else None

    def gaps(self, factor: float = GAP_FACTOR) -> list[Gap]:
        """Intervals longer than ``factor`` x the median interval, with position and size."""
        dt = self.dt_ns
        if dt.size == 0:
            return []
        med = float(np.median(dt))
        idx = np.flatnonzero(dt > factor * med)
        return [Gap(int(i), int(self.t_ns[i]), int(dt[i]), float(dt[i] / med - 1), self._line(int(i))) for i in idx]

    def summary(self) -> dict:
        """JSON-able description: samples, duration, rate, gaps, per-axis mean/std."""
        return {
            "source": self.source, "samples": len(self), "duration_s": self.duration_s, "rate_hz": self.rate_hz,
            "gaps": [str(g) for g in self.gaps()], "w_mean": self.w.mean(0).tolist(), "w_std": self.w.std(0).tolist(),
        }  # fmt: skip

    # -- windows ----------------------------------------------------------------------------------------------
    def _sub(self, sl: slice, source: str) -> GyroRecording:
        lines = self.lines[sl] if self.lines is not None else None
        return GyroRecording(self.t_ns[sl], self.w[sl], self.R_imu_to_cam, source, lines)

    def window(self, start: int, samples: int = 11) -> GyroRecording:
        """Samples ``start .. start+samples-1`` (0-based), e.g. the 11-sample exposure window of spec §1.1."""
        n = len(self)
        if samples < 2:
            raise GyroFormatError(f"{self.source}: a window needs at least 2 samples, got samples={samples}")
        if n < samples:
            raise GyroFormatError(f"{self.source}: too few samples: the recording has {n}, a window needs "
                                  f"{samples} ({samples - 1} intervals); give a longer recording or fewer --samples")
        if not 0 <= start or start + samples > n:
            raise GyroFormatError(
                f"{self.source}: window start={start} with samples={samples} needs samples {start}.."
                f"{start + samples - 1} but the recording has {n} (indices 0..{n - 1}); "
                f"choose --start between 0 and {max(n - samples, -1)}"
            )
        return self._sub(slice(start, start + samples), f"{self.source}[{start}:{start + samples}]")

    def window_time(self, start_ns: int, exposure_ns: int, samples: int | None = None) -> GyroRecording:
        """The exposure ``[start_ns, start_ns + exposure_ns]``.

        ``samples=None``: the raw samples that cover it (last sample at or before the start through the first at
        or after the end). ``samples=n``: ``n`` samples uniformly spaced over exactly the exposure, rates
        interpolated linearly (:meth:`resample`), which gives ``n - 1`` equal intervals as the CMF expects.
        """
        end = int(start_ns) + int(exposure_ns)
        if exposure_ns <= 0 or start_ns < self.t_ns[0] or end > self.t_ns[-1]:
            raise GyroFormatError(
                f"{self.source}: exposure [{start_ns}, {end}] ns is not inside the recording "
                f"[{self.t_ns[0]}, {self.t_ns[-1]}] ns; check the image timestamp and exposure (both in ns)"
            )
        if samples is None:
            i0 = int(np.searchsorted(self.t_ns, start_ns, "right")) - 1
            i1 = int(np.searchsorted(self.t_ns, end, "left"))
            return self._sub(slice(i0, i1 + 1), f"{self.source}[t={start_ns}+{exposure_ns}ns]")
        t = int(start_ns) + np.round(np.arange(samples) * (exposure_ns / (samples - 1))).astype(np.int64)
        return self.resample(t_ns=t)

    def resample(self, rate_hz: float | None = None, *, t_ns: np.ndarray | None = None) -> GyroRecording:
        """Linear interpolation of the rates onto ``t_ns`` or a uniform grid at ``rate_hz`` from the first sample."""
        if t_ns is None:
            if not rate_hz or rate_hz <= 0:
                raise ValueError("resample: give rate_hz > 0 or t_ns")
            step = 1e9 / rate_hz
            n = int(np.floor((self.t_ns[-1] - self.t_ns[0]) / step)) + 1
            t_ns = self.t_ns[0] + np.round(np.arange(n) * step).astype(np.int64)
        t_ns = np.asarray(t_ns, dtype=np.int64)
        tr = (self.t_ns - self.t_ns[0]).astype(np.float64)
        tq = (t_ns - self.t_ns[0]).astype(np.float64)
        w = np.stack([np.interp(tq, tr, self.w[:, k]) for k in range(3)], axis=-1)
        return GyroRecording(t_ns, w, self.R_imu_to_cam, f"{self.source}(resampled)")


# -- reading and validation ---------------------------------------------------------------------------------------
def _fail(source, line, msg):
    where = f"{source}: line {line}" if line is not None else f"{source}"
    raise GyroFormatError(f"{where}: {msg}")


def validate_gyro(t_ns, w, source: str = "<memory>", *, lines=None, min_samples: int = 2) -> None:
    """Check a recording; raise :class:`GyroFormatError` naming ``source``, the line and the fix.

    ``lines`` maps sample index -> 1-based line number (defaults to index + 1).
    """
    t = np.asarray(t_ns)
    w = np.asarray(w, dtype=np.float64)
    n = t.shape[0] if t.ndim else 0

    def ln(i):
        return int(lines[i]) if lines is not None else int(i) + 1

    if t.ndim != 1 or w.shape != (n, 3):
        _fail(source, None, f"expected timestamps (N,) and rates (N, 3), got {t.shape} and {w.shape}")
    if n < min_samples:
        _fail(source, None, f"has {n} samples, at least {min_samples} are needed (an 11-sample exposure window "
                            "needs 11); give a longer recording")
    bad = np.flatnonzero(~np.isfinite(w).all(axis=1))
    if bad.size:
        _fail(source, ln(bad[0]), f"angular velocity is not finite ({w[bad[0]].tolist()}); remove or repair "
                                  f"the sample ({bad.size} such line(s))")
    if not np.issubdtype(t.dtype, np.integer):
        if not np.isfinite(t).all():
            i = int(np.flatnonzero(~np.isfinite(t))[0])
            _fail(source, ln(i), "timestamp is not finite; timestamps must be integer nanoseconds")
        frac = np.flatnonzero(t != np.round(t))
        if frac.size:
            _fail(source, ln(frac[0]), f"timestamp {t[frac[0]]!r} is not an integer: timestamps look like "
                                       "seconds (or ms); convert them to integer nanoseconds (x 1e9 for seconds)")
    d = np.diff(t.astype(np.int64) if np.issubdtype(t.dtype, np.integer) else t)
    back = np.flatnonzero(d < 0)
    if back.size:
        i = int(back[0]) + 1
        _fail(source, ln(i), f"timestamps are not sorted ({int(t[i])} after {int(t[i - 1])}); sort the samples "
                             "by time")
    dup = np.flatnonzero(d == 0)
    if dup.size:
        i = int(dup[0]) + 1
        _fail(source, ln(i), f"duplicate timestamp {int(t[i])} (same as line {ln(i - 1)}); drop repeated samples "
                             f"({dup.size} duplicate(s))")
    med = float(np.median(d))
    if med < MIN_PLAUSIBLE_DT_NS:
        _fail(source, ln(0), f"median sample interval is {med:g} timestamp units: timestamps look like seconds, "
                             "ms or us, not nanoseconds; convert them to integer nanoseconds")
    if med > MAX_PLAUSIBLE_DT_NS:
        _fail(source, ln(0), f"median sample interval is {med / 1e9:g} s, implausible for a gyro; timestamps must "
                             "be nanoseconds")
    with np.errstate(over="ignore"):
        speed = np.linalg.norm(w, axis=1)  # a corrupt 1e300 overflows to inf: refused below
    big = speed > MAX_PLAUSIBLE_RATE
    if big.any():
        # a run of >= 5 consecutive implausible samples (or the whole recording if shorter)
        run = min(5, n)
        c = np.convolve(big.astype(np.int64), np.ones(run, dtype=np.int64), mode="valid")
        hit = np.flatnonzero(c >= run)
        if hit.size:
            i = int(hit[0])
            _fail(source, ln(i), f"angular speed {speed[i]:.1f} rad/s sustained over {run} samples "
                                 f"exceeds {MAX_PLAUSIBLE_RATE:g} rad/s (2000 deg/s): the rates look like "
                                 "degrees/s; convert them to rad/s (x pi/180)")
        over = np.flatnonzero(~(speed <= MAX_SENSOR_RATE))
        if over.size:
            i = int(over[0])
            _fail(source, ln(i), f"angular speed {speed[i]:.4g} rad/s is beyond any gyroscope's range (at most "
                                 f"{MAX_SENSOR_RATE:g} rad/s is accepted); the sample is corrupt or not in rad/s: repair "
                                 f"or remove it ({over.size} such sample(s))")
        log.warning("%s: %d isolated sample(s) above %g rad/s (first at line %d)", source, int(big.sum()),
                    MAX_PLAUSIBLE_RATE, ln(int(np.flatnonzero(big)[0])))


def parse_gyro_text(text: str, source: str = "<text>") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse ``timestamp_ns wx wy wz`` lines -> ``(t, w (N,3) float64, line numbers (N,))``.

    ``t`` is int64 when every timestamp is an integer literal, else float64 (validation then explains the
    units). Raises :class:`GyroFormatError` with the line for wrong column counts and non-numeric values.
    """
    rows, lines = [], []
    for k, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.replace(",", " ").split()
        if len(parts) != 4:
            _fail(source, k, f"expected 4 columns 'timestamp_ns wx wy wz', found {len(parts)}; fix the line or the "
                             "delimiter")
        rows.append(parts)
        lines.append(k)
    if not rows:
        _fail(source, None, "contains no samples (empty file or only comments); expected lines "
                            "'timestamp_ns wx wy wz' with rates in rad/s")
    arr = np.array(rows, dtype=object)
    line_arr = np.asarray(lines, dtype=np.int64)
    try:
        w = arr[:, 1:].astype(np.float64)
    except ValueError:
        for r, k in zip(rows, lines):
            for c, name in zip(r[1:], ("wx", "wy", "wz")):
                try:
                    float(c)
                except ValueError:
                    _fail(source, k, f"column {name} is not a number; rates must be decimal numbers in rad/s")
        raise
    tcol = arr[:, 0].astype(str)
    try:
        t = tcol.astype(np.int64)
    except (ValueError, OverflowError):
        try:
            t = tcol.astype(np.float64)
        except ValueError:
            for c, k in zip(tcol, lines):
                try:
                    float(c)
                except ValueError:
                    _fail(source, k, "timestamp is not a number; timestamps must be integer nanoseconds (start "
                                     "header lines with '#')")
            raise
        if np.isfinite(t).all() and (t == np.round(t)).all() and np.abs(t).max() < 2**62:
            t = t.astype(np.int64)
    return t, w, line_arr


def load_gyro(path, R_imu_to_cam=None, *, min_samples: int = 2) -> GyroRecording:
    """Read and validate a ``timestamp_ns wx wy wz`` file (rad/s) into a :class:`GyroRecording`.

    Raises :class:`GyroFormatError` naming the file, the line and the fix (see module docstring); logs gaps.
    """
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise GyroFormatError(f"{src}: file not found; give the path of a 'timestamp_ns wx wy wz' text file")
    if path.is_dir():
        raise GyroFormatError(f"{src}: is a directory; give the path of a gyro text file")
    data = path.read_bytes()
    if not data.strip():
        raise GyroFormatError(f"{src}: file is empty; expected lines 'timestamp_ns wx wy wz' (rad/s)")
    if b"\x00" in data[:65536]:
        raise GyroFormatError(f"{src}: looks like a binary file (NUL bytes); expected text lines "
                              "'timestamp_ns wx wy wz' (rad/s)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GyroFormatError(f"{src}: line {line}: not UTF-8 text (binary file?); expected text lines "
                              "'timestamp_ns wx wy wz' (rad/s)") from None
    t, w, lines = parse_gyro_text(text, src)
    validate_gyro(t, w, src, lines=lines, min_samples=min_samples)
    rec = GyroRecording(t.astype(np.int64), w, np.eye(3) if R_imu_to_cam is None else R_imu_to_cam, src, lines)
    for g in rec.gaps():
        log.info("%s: %s", src, g)
    return rec
