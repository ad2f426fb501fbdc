"""``gcsv``: Gyroflow's text IMU log (``GYROFLOW IMU LOG`` / ``CAMERA IMU LOG``) + photo times -> captures.

Header: the first line names the format, then ``key,value`` lines (``version``, ``id``, ``orientation``,
``tscale``, ``gscale``, ``frame_readout_time`` in ms, ...) up to the column line ``t,gx,gy,gz[,ax,ay,az...]``.
Rows are raw integers or numbers: ``t * tscale`` is seconds, ``g * gscale`` is rad/s (the gcsv definition).
``tscale`` and ``gscale`` are required. Photo times (``--photos FILE`` or ``--photo IMAGE,START,EXPOSURE``) are
on the photo clock; the calibration's ``time_offset_s`` maps the log's clock (seconds from ``t = 0``) onto it.

The ``orientation`` string is recorded but **not** interpreted: the IMU-to-camera rotation comes from the
calibration file (``R_imu_to_cam``), so the axis convention is stated once, explicitly. The readout time is the
calibration's ``readout_time_s``, else the log's ``frame_readout_time`` (ms).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...errors import GyroFormatError
from ...gyro.recording import GyroRecording, validate_gyro
from ...textfiles import read_text
from ..calibration import Calibration
from .common import PhotoSpec, fail, make_capture, require_calibration_and_photos

__all__ = ["import_gcsv", "read_gcsv"]

MAGIC = ("GYROFLOW IMU LOG", "CAMERA IMU LOG")
REQUIRED = ("tscale", "gscale")


def read_gcsv(path: Path) -> tuple[GyroRecording, dict]:
    """``(recording in ns and rad/s on the IMU axes, header dict)`` of a ``.gcsv`` file."""
    path = Path(path)
    if not path.is_file():
        fail(path, None, "not found; give a Gyroflow .gcsv log")
    lines = read_text(path, "gcsv log", GyroFormatError).splitlines()
    if not lines or lines[0].strip() not in MAGIC:  # not a gcsv log: nothing of it is echoed
        fail(path, 1, "is not a gcsv log: its first line must be 'GYROFLOW IMU LOG' or 'CAMERA IMU LOG'; give a "
                      "Gyroflow .gcsv log" if lines else "file is empty; a gcsv log starts with 'GYROFLOW IMU LOG'")
    header: dict[str, str] = {}
    cols, col_line = None, None
    for k, raw in enumerate(lines[1:], start=2):
        s = raw.strip()
        if not s:
            continue
        key, _, value = s.partition(",")
        if key.strip() == "t":
            cols, col_line = [c.strip() for c in s.split(",")], k
            break
        header[key.strip()] = value.strip()
    if cols is None:
        fail(path, None, "no column line 't,gx,gy,gz[,ax,ay,az]' after the header; add it before the samples")
    for key in REQUIRED:
        if key not in header:
            fail(path, col_line, f"missing header key '{key}' (before the column line); add '{key},<value>' "
                                 f"({'seconds per raw t unit' if key == 'tscale' else 'rad/s per raw gyro unit'})")
    try:
        tscale, gscale = float(header["tscale"]), float(header["gscale"])
    except ValueError:
        fail(path, None, f"tscale/gscale must be numbers, got {header['tscale'][:40]!r}, {header['gscale'][:40]!r}")
    if not (math.isfinite(tscale) and tscale > 0):
        fail(path, None, f"header 'tscale' is {tscale!r}: it must be a positive number (seconds per raw t unit, "
                         "e.g. 0.001 for ms); fix the header")
    if not (math.isfinite(gscale) and gscale != 0):
        fail(path, None, f"header 'gscale' is {gscale!r}: it must be a finite, non-zero number (rad/s per raw gyro "
                         "unit); fix the header")
    if cols[:4] != ["t", "gx", "gy", "gz"]:
        fail(path, col_line, f"columns are {cols}; a gcsv log's columns start with t,gx,gy,gz")
    t, w, lnum = [], [], []
    for k, raw in enumerate(lines[col_line:], start=col_line + 1):
        s = raw.strip()
        if not s:
            continue
        parts = s.split(",")
        if len(parts) != len(cols):
            fail(path, k, f"expected {len(cols)} columns ({','.join(cols)}), found {len(parts)}; fix the row")
        try:
            vals = [float(p) for p in parts[:4]]
        except ValueError:
            fail(path, k, "non-numeric value in the t,gx,gy,gz columns; rows hold numbers")
        if not all(math.isfinite(v) for v in vals):
            fail(path, k, "a value is not finite (nan or inf); rows hold finite numbers")
        t.append(vals[0])
        w.append(vals[1:4])
        lnum.append(k)
    if not t:
        fail(path, None, "has no samples after the column line")
    t_s = np.asarray(t) * tscale
    if not (np.abs(t_s) < 9.2e9).all():  # int64 nanoseconds reach 292 years
        i = int(np.flatnonzero(~(np.abs(t_s) < 9.2e9))[0])
        fail(path, int(lnum[i]), "timestamp x tscale is beyond 292 years; check tscale (seconds per raw t unit)")
    t_ns = np.round(t_s * 1e9).astype(np.int64)
    w_arr = np.asarray(w, dtype=np.float64) * gscale
    l_arr = np.asarray(lnum)
    validate_gyro(t_ns, w_arr, str(path), lines=l_arr, min_samples=2)
    return GyroRecording(t_ns, w_arr, np.eye(3), str(path), l_arr), header


def import_gcsv(src: Path, out: Path, *, calibration: Calibration | None = None, photos: list[PhotoSpec] = (),
                image_encoding: str | None = None, **_ignored) -> list[Path]:
    src = Path(src)
    require_calibration_and_photos(src, "gcsv", calibration, photos)
    rec, header = read_gcsv(src)
    readout = calibration.readout_time_s
    if readout is None and "frame_readout_time" in header:
        try:
            readout = float(header["frame_readout_time"]) * 1e-3  # ms in the gcsv header
        except ValueError:
            readout = math.nan
        if not (math.isfinite(readout) and 0 <= readout < 1):
            fail(src, None, "header 'frame_readout_time' must be a number of ms from 0 to 1000; fix the header")
    folders = []
    for p in photos:
        source = {"importer": "gcsv", "log": str(src), "header": header, "photo": p.where,
                  "orientation_note": "the gcsv orientation string is recorded, not applied; R_imu_to_cam comes "
                                      "from the calibration"}
        folders.append(make_capture(Path(out), p.image.stem, p.image, image_encoding=image_encoding or "srgb",
                                    start_ns=p.start_ns, exposure_ns=p.exposure_ns, rec=rec,
                                    calibration=calibration, readout_time_s=readout, source=source,
                                    where=p.where))
    return folders
