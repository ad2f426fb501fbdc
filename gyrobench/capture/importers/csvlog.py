"""``csv``: a generic gyro table with a column map and explicit units, plus photo times -> captures.

- Delimiter: comma, semicolon, tab or whitespace (sniffed from the first data line). Lines starting with ``#``
  are comments. A first line with a non-numeric field is a header.
- ``columns``: ``t=NAME|INDEX,wx=...,wy=...,wz=...`` (0-based indices or header names). Without it a header
  must name the columns (``t``/``time``/``timestamp``..., ``wx``/``gx``/``gyro_x``...).
- Units: ``time_unit`` (ns, us, ms, s) and ``rate_unit`` (rad/s, deg/s), or unit suffixes in the header names
  (``t_ns``, ``gx_dps``, ``wx_rad_s``). An unstated time unit is inferred from the sample spacing when that is
  unambiguous (0.5-20 ms per sample, logged); an unstated rate unit is an error that says how to state it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import GyroFormatError
from ...gyro.recording import GyroRecording, validate_gyro
from ...textfiles import read_text
from ..calibration import Calibration
from ..format import CaptureError
from ..units import (
    RATE_UNITS,
    TIME_UNITS,
    infer_time_unit,
    parse_rate_unit,
    parse_time_unit,
    rate_unit_from_name,
    time_unit_from_name,
)
from .common import PhotoSpec, fail, log, make_capture, require_calibration_and_photos

__all__ = ["import_csv", "read_csv_gyro", "parse_column_map"]

_NAMES = {"t": ("t", "time", "timestamp", "ts"), "wx": ("wx", "gx", "gyro_x", "x"),
          "wy": ("wy", "gy", "gyro_y", "y"), "wz": ("wz", "gz", "gyro_z", "z")}


def parse_column_map(text: str | None) -> dict[str, str]:
    """``"t=0,wx=1,wy=2,wz=3"`` -> ``{"t": "0", ...}``; all four keys required."""
    if not text:
        return {}
    out = {}
    for part in str(text).split(","):
        key, sep, val = part.partition("=")
        if not sep or key.strip() not in _NAMES:
            raise CaptureError(f"--columns {text!r}: expected t=...,wx=...,wy=...,wz=... (names or 0-based indices)")
        out[key.strip()] = val.strip()
    missing = [k for k in _NAMES if k not in out]
    if missing:
        raise CaptureError(f"--columns {text!r}: missing {', '.join(missing)}; map all of t, wx, wy, wz")
    return out


def _split(line: str, delim: str | None) -> list[str]:
    return line.split() if delim is None else [p.strip() for p in line.split(delim)]


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _base(name: str) -> str:
    return re.sub(r"[_\[\( ](ns|us|µs|ms|s|sec|rad/s|rad_s|radps|rads|deg/s|deg_s|dps|degps)[\]\)]?$", "",
                  name.strip().lower())


def read_csv_gyro(path: Path, *, columns: dict[str, str] | None = None, time_unit: str | None = None,
                  rate_unit: str | None = None) -> tuple[GyroRecording, dict]:
    """``(recording in ns and rad/s on the IMU axes, how units/columns were decided)``."""
    path = Path(path)
    if not path.is_file():
        fail(path, None, "not found; give a CSV gyro log")
    rows = [(k, raw.strip()) for k, raw in enumerate(read_text(path, "CSV gyro log", GyroFormatError).splitlines(), start=1)
            if raw.strip() and not raw.strip().startswith("#")]
    if not rows:
        fail(path, None, "has no rows; expected a table of time and three angular rates")
    first = rows[0][1]
    delim = next((d for d in (",", ";", "\t") if d in first), None)
    header = None
    if not all(_is_number(c) for c in _split(first, delim)):
        header = _split(first, delim)
        rows = rows[1:]
    columns = dict(columns or {})
    idx = {}
    for key in _NAMES:
        spec = columns.get(key)
        if spec is None:
            if header is None:
                fail(path, 1, "has no header and no column map; pass --columns t=0,wx=1,wy=2,wz=3 (0-based)")
            found = [i for i, h in enumerate(header) if _base(h) in _NAMES[key]]
            if not found:
                fail(path, 1, f"no column for {key} in the header {header}; name it ({'/'.join(_NAMES[key])}) or "
                              f"pass --columns")
            idx[key] = found[0]
        elif spec.lstrip("-").isdigit():
            idx[key] = int(spec)
        elif header is not None and spec in header:
            idx[key] = header.index(spec)
        else:
            fail(path, 1, f"column {spec!r} for {key} is not in the header {header}; use a header name or an index")
    decided = {"columns": {k: (header[i] if header else i) for k, i in idx.items()}}
    ncol = len(header) if header else len(_split(rows[0][1], delim))
    if max(idx.values()) >= ncol:
        fail(path, rows[0][0], f"column index {max(idx.values())} does not exist (rows have {ncol} columns)")
    t_raw, w = [], []
    for k, line in rows:
        parts = _split(line, delim)
        if len(parts) != ncol:
            fail(path, k, f"expected {ncol} columns, found {len(parts)}; fix the row or the delimiter")
        try:
            t_raw.append(parts[idx["t"]])
            w.append([float(parts[idx[a]]) for a in ("wx", "wy", "wz")])
        except ValueError:
            fail(path, k, f"non-numeric rate in {parts}; rates must be decimal numbers")
    # units
    if rate_unit is None and header is not None:
        names = {rate_unit_from_name(header[idx[a]]) for a in ("wx", "wy", "wz")}
        if len(names) == 1 and None not in names:
            rate_unit = names.pop()
            decided["rate_unit_from"] = "header"
    if rate_unit is None:
        fail(path, 1, "the rate unit is not stated; pass --rate-unit rad/s or --rate-unit deg/s, or name the "
                      "columns with a unit suffix (wx_rad_s, gx_dps)")
    rate_unit = parse_rate_unit(rate_unit, str(path))
    if time_unit is None and header is not None:
        time_unit = time_unit_from_name(header[idx["t"]])
        decided["time_unit_from"] = "header" if time_unit else None
    try:
        t_float = np.asarray([float(x) for x in t_raw])
    except ValueError:
        bad = next(i for i, x in enumerate(t_raw) if not _is_number(x))
        fail(path, rows[bad][0], f"timestamp {t_raw[bad]!r} is not a number")
    if time_unit is None:
        time_unit = infer_time_unit(t_float)
        if time_unit is None:
            fail(path, 1, "the time unit is not stated and the sample spacing fits no unit (0.5-20 ms per sample); "
                          "pass --time-unit ns|us|ms|s or name the time column t_ns / t_s")
        decided["time_unit_from"] = "sample spacing (median interval 0.5-20 ms)"
        log.info("%s: time unit inferred from the sample spacing: %s", path, time_unit)
    time_unit = parse_time_unit(time_unit, str(path))
    if time_unit == "ns" and all(x.lstrip("+-").isdigit() for x in t_raw):
        t_ns = np.asarray([int(x) for x in t_raw], dtype=np.int64)
    else:
        t_ns = np.round(t_float * TIME_UNITS[time_unit]).astype(np.int64)
    w_arr = np.asarray(w, dtype=np.float64) * RATE_UNITS[rate_unit]
    l_arr = np.asarray([k for k, _ in rows])
    validate_gyro(t_ns, w_arr, str(path), lines=l_arr, min_samples=2)
    decided.update(time_unit=time_unit, rate_unit=rate_unit)
    return GyroRecording(t_ns, w_arr, np.eye(3), str(path), l_arr), decided


def import_csv(src: Path, out: Path, *, calibration: Calibration | None = None, photos: list[PhotoSpec] = (),
               image_encoding: str | None = None, columns: str | dict | None = None, time_unit: str | None = None,
               rate_unit: str | None = None, **_ignored) -> list[Path]:
    src = Path(src)
    require_calibration_and_photos(src, "csv", calibration, photos)
    cmap = parse_column_map(columns) if isinstance(columns, str) or columns is None else dict(columns)
    try:
        rec, decided = read_csv_gyro(src, columns=cmap, time_unit=time_unit, rate_unit=rate_unit)
    except ValueError as exc:
        if isinstance(exc, CaptureError) or type(exc).__name__ == "GyroFormatError":
            raise
        raise CaptureError(str(exc)) from None
    return [make_capture(Path(out), p.image.stem, p.image, image_encoding=image_encoding or "srgb",
                         start_ns=p.start_ns, exposure_ns=p.exposure_ns, rec=rec, calibration=calibration,
                         source={"importer": "csv", "log": str(src), "decided": decided, "photo": p.where},
                         where=p.where) for p in photos]
