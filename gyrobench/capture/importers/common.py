"""What every importer shares: photo specifications, the side file of photo times, and writing one capture.

Errors name the file and line and say how to fix it (:class:`~gyrobench.errors.GyroFormatError` for gyro logs,
:class:`~gyrobench.capture.format.CaptureError` for photo lists and folders).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import GyroFormatError
from ...gyro.recording import GyroRecording
from ...log import get_logger
from ...textfiles import inside, read_text, safe_name
from ..calibration import Calibration
from ..format import Capture, CaptureError, read_image, write_capture
from ..units import TIME_UNITS, parse_quantity_ns, time_unit_from_name

__all__ = ["PhotoSpec", "read_photo_list", "parse_photo_arg", "make_capture", "fail", "HANDHELD_MAX_RATE",
           "GYRO_MARGIN_NS", "require_calibration_and_photos"]

log = get_logger("capture.import")

#: rad/s; more than this during an exposure is implausible for a hand-held photo (115 deg/s): a warning
HANDHELD_MAX_RATE = 2.0
#: gyro kept around each photo (each side), ns: room for the time-offset search of ``gyrobench capture calibrate``
GYRO_MARGIN_NS = 1_000_000_000


def fail(path, line: int | None, message: str, exc=GyroFormatError):
    where = f"{path}: line {line}" if line else f"{path}"
    raise exc(f"{where}: {message}")


@dataclass(frozen=True)
class PhotoSpec:
    """One photo to import: its file, exposure start (photo clock, ns) and exposure time (ns)."""

    image: Path
    start_ns: int
    exposure_ns: int
    where: str = ""


def parse_photo_arg(text: str) -> PhotoSpec:
    """``IMAGE,START,EXPOSURE`` with units, e.g. ``shot.jpg,12.5s,20ms`` (the ``--photo`` option)."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3:
        raise CaptureError(f"--photo {text!r}: expected IMAGE,START,EXPOSURE with units, e.g. shot.jpg,12.5s,20ms")
    try:
        start = parse_quantity_ns(parts[1], f"--photo {text!r}: start")
        exp = parse_quantity_ns(parts[2], f"--photo {text!r}: exposure")
    except ValueError as exc:
        raise CaptureError(str(exc)) from None
    return PhotoSpec(Path(parts[0]), start, exp, f"--photo {text}")


def read_photo_list(path: str | Path) -> list[PhotoSpec]:
    """A CSV side file with a header ``image,start_<unit>,exposure_<unit>`` (units ns, us, ms or s).

    Image paths are relative to the side file. Example::

        image,start_s,exposure_ms
        IMG_0001.jpg,12.503,20
    """
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"{path}: photo list not found; give a CSV with header image,start_s,exposure_ms")
    try:
        rows = list(csv.reader(read_text(path, "photo list (CSV)", CaptureError).splitlines()))
    except csv.Error as exc:
        fail(path, None, f"not a readable CSV ({str(exc)[:80]}); give a CSV with header image,start_s,exposure_ms",
             CaptureError)
    body = [(k, r) for k, r in enumerate(rows, start=1) if r and not r[0].strip().startswith("#")]
    if not body:
        fail(path, None, "is empty; expected a header image,start_<unit>,exposure_<unit> and one row per photo",
             CaptureError)
    (hl, header), data = body[0], body[1:]
    header = [h.strip() for h in header]
    if len(header) != 3 or header[0] != "image":
        fail(path, hl, f"header is {header}; expected image,start_<unit>,exposure_<unit> (e.g. "
                       "image,start_s,exposure_ms)", CaptureError)
    units = []
    for name in header[1:]:
        u = time_unit_from_name(name)
        if u is None:
            fail(path, hl, f"column '{name}' states no time unit; name it {name}_ns, {name}_us, {name}_ms or "
                           f"{name}_s", CaptureError)
        units.append(u)
    out = []
    for k, r in data:
        if len(r) != 3:
            fail(path, k, f"expected 3 columns (image, start, exposure), found {len(r)}; fix the row", CaptureError)
        try:
            start = _to_ns(r[1].strip(), units[0])
            exp = _to_ns(r[2].strip(), units[1])
        except ValueError:
            fail(path, k, f"start/exposure {r[1][:40]!r}, {r[2][:40]!r} are not finite numbers; write decimal "
                          "numbers in the header's units", CaptureError)
        if exp <= 0:
            fail(path, k, f"exposure must be positive, got {r[2]!r}", CaptureError)
        image = inside(path.parent, r[0].strip(), f"{path}: line {k}: image", CaptureError)
        out.append(PhotoSpec(image, start, exp, f"{path}: line {k}"))
    if not out:
        fail(path, None, "lists no photo; add one row per photo under the header", CaptureError)
    return out


def require_calibration_and_photos(src: Path, fmt: str, calibration, photos) -> None:
    """The gcsv and csv formats need a calibration file and at least one photo; one-line errors otherwise."""
    if calibration is None:
        raise CaptureError(f"{src}: the {fmt} format needs --calibration FILE (K, image_size, R_imu_to_cam)")
    if not photos:
        raise CaptureError(f"{src}: no photo given; pass --photos FILE (image,start_s,exposure_ms) or "
                           "--photo IMAGE,START,EXPOSURE (e.g. shot.jpg,12.5s,20ms)")


def _to_ns(text: str, unit: str) -> int:
    if unit == "ns" and text.lstrip("+-").isdigit() and len(text) < 20:
        return int(text)
    value = float(text) * TIME_UNITS[unit]
    if not math.isfinite(value) or abs(value) > 2**62:
        raise ValueError(f"{text!r} is not a finite time")
    return int(round(value))


def _check_plausible(rec: GyroRecording, a_ns: int, b_ns: int, where: str) -> None:
    sel = (rec.t_ns >= a_ns) & (rec.t_ns <= b_ns)
    if not sel.any():
        return
    peak = float(np.linalg.norm(rec.w[sel], axis=1).max())
    if peak > HANDHELD_MAX_RATE:
        log.warning("%s: the gyro reaches %.2f rad/s during the exposure window [%d, %d] ns (gyro clock), "
                    "implausible for a hand-held photo (> %.1f rad/s); check the rate unit (deg/s?) and scale",
                    where, peak, a_ns, b_ns, HANDHELD_MAX_RATE)


def make_capture(out_dir: Path, name: str, image: Path, *, image_encoding: str, start_ns: int, exposure_ns: int,
                 rec: GyroRecording, calibration: Calibration, offset_ns: int | None = None,
                 readout_time_s: float | None = None, source: dict, where: str) -> Path:
    """Write one capture folder ``out_dir/name`` from a photo and a gyro recording on the **gyro** clock.

    ``rec``: rates in rad/s on the IMU axes; ``offset_ns`` (default: the calibration's) maps gyro -> photo
    clock; ``readout_time_s`` (default: the calibration's). The gyro is cut to the exposure +-
    :data:`GYRO_MARGIN_NS`; the exposure must lie inside the log.
    """
    if not image.is_file():
        raise CaptureError(f"{where}: photo {image} not found; check the path (relative to the photo list)")
    name = safe_name(name, "capture")
    inside(out_dir, name, f"{where}: capture name", CaptureError)
    if (out_dir / name).exists():
        raise CaptureError(f"{where}: photo {image.name}: a capture named {name!r} was already made by this import "
                           "(two photos with the same name?); rename one of the photos")
    arr, bits = read_image(image)
    h, w = arr.shape[:2]
    K = calibration.K_for((w, h), str(image))
    off = calibration.offset_ns() if offset_ns is None else int(offset_ns)
    readout = calibration.readout() if readout_time_s is None else float(readout_time_s)
    R = calibration.rotation()
    end_ns = start_ns + exposure_ns + int(round(readout * 1e9))
    g0, g1 = start_ns - off, end_ns - off  # exposure on the gyro clock
    if rec.t_ns[0] > g0 or rec.t_ns[-1] < g1:
        raise GyroFormatError(
            f"{rec.source}: the gyro log covers [{rec.t_ns[0]}, {rec.t_ns[-1]}] ns (gyro clock) but photo "
            f"{image.name} ({where}) is exposed over [{g0}, {g1}] ns on that clock (offset {off} ns); check the "
            "photo times, their unit and the time offset")
    _check_plausible(rec, g0, g1, f"{rec.source} (photo {image.name})")
    keep = (rec.t_ns >= g0 - GYRO_MARGIN_NS) & (rec.t_ns <= g1 + GYRO_MARGIN_NS)
    i0 = max(int(np.flatnonzero(keep)[0]) - 1, 0)
    i1 = min(int(np.flatnonzero(keep)[-1]) + 2, len(rec))
    cap = Capture(image="", image_encoding=image_encoding, image_size=(w, h), gyro="", K=K.tolist(),
                  exposure_start_ns=int(start_ns), exposure_ns=int(exposure_ns), R_imu_to_cam=R.tolist(),
                  readout_time_s=readout, time_offset_ns=off, distortion=calibration.distortion, name=name,
                  source={**source, "image_file": str(image), "image_bits": bits,
                          "calibration": calibration.record()})
    folder = write_capture(out_dir / name, cap, image_src=image, gyro_t_ns=rec.t_ns[i0:i1], gyro_w=rec.w[i0:i1])
    log.info("capture %s: %dx%d %s photo, exposure %.1f ms, readout %.1f ms, offset %.3f ms, %d gyro samples",
             name, w, h, image_encoding, exposure_ns / 1e6, readout * 1e3, off / 1e6, i1 - i0)
    return folder
