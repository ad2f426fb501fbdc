"""``deepgyro``: DeepGyro's raw-data layout (Mustaniemi et al., WACV 2019) -> one capture per photo.

Layout of ``SRC``::

    images/images.txt   one line per photo: exposure_start_ns exposure_ns   (line k -> images/000k.jpg)
    images/0001.jpg ...
    imu/imu.txt         lines 'type t_ns x y z'; type 4 = gyroscope (rad/s); other Android sensor types ignored

and a calibration file (``--calibration``, required): ``K``, ``image_size``, the IMU rotation (DeepGyro's own
calibration uses the row-vector convention ``w_cam = w @ R``: give it as ``R_imu_to_cam_rowvec``),
``readout_time_s`` and ``time_offset_s`` = DeepGyro's ``td``.

Timing, exactly as DeepGyro's preprocessing (``docs/captures.md``, "DeepGyro"): each clock is measured from its
own first timestamp (gyro times from the first gyro row, photo times from the first photo's exposure start) and
``td`` is added to the gyro times. On the absolute photo clock that is the offset
``time_offset_ns = td + photo_first_ns - gyro_first_ns``, which ``capture.json`` states (the parts are recorded
in ``source``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import GyroFormatError
from ...gyro.recording import GyroRecording, validate_gyro
from ...textfiles import read_text
from ..calibration import Calibration
from ..format import CaptureError
from .common import fail, log, make_capture

__all__ = ["import_deepgyro", "read_imu_txt", "read_images_txt", "GYRO_TYPE", "ANDROID_SENSOR_TYPES"]

GYRO_TYPE = 4
#: Android ``Sensor.TYPE_*`` constants (1 accelerometer, 2 magnetic field, 4 gyroscope, 16 gyroscope
#: uncalibrated, ...); any other value is not a sensor type and is reported as an error.
ANDROID_SENSOR_TYPES = frozenset(range(1, 41))


def read_imu_txt(path: Path) -> GyroRecording:
    """Gyroscope rows (type 4) of ``imu.txt`` as a recording (rad/s, IMU axes, ns), validated with line numbers."""
    if not path.is_file():
        fail(path, None, "not found; DeepGyro data needs imu/imu.txt with lines 'type t_ns x y z'", CaptureError)
    t, w, lines = [], [], []
    for k, raw in enumerate(read_text(path, "DeepGyro text file", GyroFormatError).splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.replace(",", " ").split()
        if len(parts) != 5:
            fail(path, k, f"expected 5 columns 'type t_ns x y z', found {len(parts)}; fix the line")
        try:
            typ = int(parts[0])
        except ValueError:
            fail(path, k, f"sensor type {parts[0]!r} is not an integer; the first column is the Android sensor "
                          "type (4 = gyroscope)")
        if typ not in ANDROID_SENSOR_TYPES:
            fail(path, k, f"unknown sensor type {typ}; the first column must be an Android sensor type "
                          "(1-40; 4 = gyroscope, the only one read)")
        if typ != GYRO_TYPE:
            continue
        try:
            ti = int(parts[1])
        except ValueError:
            fail(path, k, f"timestamp {parts[1]!r} is not an integer; timestamps must be integer nanoseconds")
        try:
            w.append([float(v) for v in parts[2:]])
        except ValueError:
            fail(path, k, f"rates {parts[2:]} are not numbers; gyroscope rows hold rad/s values")
        t.append(ti)
        lines.append(k)
    if not t:
        fail(path, None, "has no gyroscope rows (type 4); DeepGyro logs hold 'type t_ns x y z' lines")
    t_arr, w_arr, l_arr = np.asarray(t, dtype=np.int64), np.asarray(w, dtype=np.float64), np.asarray(lines)
    validate_gyro(t_arr, w_arr, str(path), lines=l_arr, min_samples=2)
    return GyroRecording(t_arr, w_arr, np.eye(3), str(path), l_arr)


def read_images_txt(path: Path) -> list[tuple[int, int, int]]:
    """``(line, exposure_start_ns, exposure_ns)`` per photo of ``images.txt``."""
    if not path.is_file():
        fail(path, None, "not found; DeepGyro data needs images/images.txt (exposure_start_ns exposure_ns per "
                         "photo)", CaptureError)
    out = []
    for k, raw in enumerate(read_text(path, "DeepGyro text file", GyroFormatError).splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.replace(",", " ").split()
        if len(parts) != 2:
            fail(path, k, f"expected 2 columns 'exposure_start_ns exposure_ns', found {len(parts)}; fix the line",
                 CaptureError)
        try:
            start, exp = int(parts[0]), int(parts[1])
        except ValueError:
            fail(path, k, f"{parts} are not integers; both columns are integer nanoseconds", CaptureError)
        if exp <= 0:
            fail(path, k, f"exposure {exp} ns must be positive", CaptureError)
        if out and start <= out[-1][1]:
            fail(path, k, f"exposure start {start} is not after the previous photo's ({out[-1][1]}); list the "
                          "photos in time order, once each", CaptureError)
        out.append((k, start, exp))
    if not out:
        fail(path, None, "lists no photo", CaptureError)
    return out


def _photo_file(folder: Path, index: int) -> Path:
    for ext in (".jpg", ".jpeg", ".png"):
        p = folder / f"{index:04d}{ext}"
        if p.is_file():
            return p
    return folder / f"{index:04d}.jpg"


def import_deepgyro(src: Path, out: Path, *, calibration: Calibration | None = None,
                    image_encoding: str | None = None, **_ignored) -> list[Path]:
    src = Path(src)
    if calibration is None:
        raise CaptureError(f"{src}: the deepgyro format needs --calibration FILE (K, image_size, "
                           "R_imu_to_cam_rowvec, readout_time_s, time_offset_s = DeepGyro's td)")
    rec = read_imu_txt(src / "imu" / "imu.txt")
    photos = read_images_txt(src / "images" / "images.txt")
    td_ns = calibration.offset_ns()
    gyro_first, photo_first = int(rec.t_ns[0]), photos[0][1]
    offset = td_ns + photo_first - gyro_first
    folders, skipped = [], []
    for i, (line, start, exp) in enumerate(photos, start=1):
        img = _photo_file(src / "images", i)
        source = {"importer": "deepgyro", "images_txt_line": line,
                  "timing": {"rule": "DeepGyro: gyro times from the first gyro row, photo times from the first "
                                     "photo, td added to gyro times; time_offset_ns = td + photo_first - gyro_first",
                             "td_ns": td_ns, "gyro_first_ns": gyro_first, "photo_first_ns": photo_first}}
        where = f"{src / 'images' / 'images.txt'}: line {line}"
        end_gyro = start + exp + round((calibration.readout_time_s or 0.0) * 1e9) - offset
        if start - offset < rec.t_ns[0] or end_gyro > rec.t_ns[-1]:
            # DeepGyro's alignment puts the first photo td before the first gyro row: no gyro for it
            log.warning("%s: photo %s skipped: its exposure [%d, %d] ns on the gyro clock is outside the gyro log "
                        "[%d, %d] ns after DeepGyro's alignment (td = %d ns)", where, img.name, start - offset,
                        end_gyro, rec.t_ns[0], rec.t_ns[-1], td_ns)
            skipped.append(img.name)
            continue
        folders.append(make_capture(Path(out), img.stem, img, image_encoding=image_encoding or "srgb",
                                    start_ns=start, exposure_ns=exp, rec=rec, calibration=calibration,
                                    offset_ns=offset, source=source, where=where))
    if not folders:
        raise CaptureError(f"{src / 'images' / 'images.txt'}: no photo lies inside the gyro log after DeepGyro's "
                           f"alignment (skipped {', '.join(skipped)}); check td (time_offset_s) and the logs")
    return folders
