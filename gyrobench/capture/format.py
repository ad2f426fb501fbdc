"""A capture: one photo with its gyro, intrinsics, exposure timing, readout, time offset and IMU rotation.

On disk a capture is a folder (``docs/captures.md``)::

    capture.json     the typed record below (format "gyrobench-capture/1")
    image.png        the photo as imported (or .jpg/.tif; bytes unchanged), its encoding named in capture.json
    gyro.txt         'timestamp_ns wx wy wz' lines: int ns on the GYRO clock, rad/s on the IMU axes

Conventions (every one is a field of ``capture.json``; nothing is guessed when it is read):

- ``K`` (3x3) in pixels of the stored image (x right, y down, integer = pixel centre); ``image_size`` [w, h].
- ``exposure_start_ns``: exposure start of the first row, on the PHOTO clock; ``exposure_ns``: exposure time.
- ``readout_time_s``: rolling-shutter readout of the full frame, top row to bottom row (0 = global shutter).
- ``time_offset_ns``: added to the gyro timestamps to put them on the photo clock (int ns, exact).
- ``R_imu_to_cam``: rates on the camera axes (x right, y down, z forward) are ``R @ w_imu`` (column vectors).
- ``image_encoding``: ``"srgb"`` (display-encoded: phone JPEGs, ordinary PNGs) or ``"linear"``; models get
  linear light, decoded with the IEC 61966-2-1 sRGB curve when ``"srgb"``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..config import from_dict, to_dict
from ..errors import GyrobenchError, GyroFormatError, ImageError
from ..gyro.recording import GyroRecording, load_gyro
from ..io import write_text_atomic
from ..log import get_logger
from ..textfiles import inside, read_text

__all__ = ["Capture", "CAPTURE_FORMAT", "CaptureError", "load_capture", "write_capture", "read_image",
           "list_captures", "write_gyro_file", "CAMERA_AXES", "check_gyro_covers"]

log = get_logger("capture")

CAPTURE_FORMAT = "gyrobench-capture/1"
CAMERA_AXES = "camera axes: x right, y down, z forward (optical axis); pixels: x column, y row, integer = centre"


class CaptureError(GyrobenchError, ValueError):
    """A capture folder or ``capture.json`` is missing, malformed or inconsistent (file, field and fix named)."""


def _matrix(value, name: str, where: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.shape != (3, 3) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a 3x3 matrix of finite numbers, got {value!r} ({where})")
    return a


@dataclass
class Capture:
    """The typed content of ``capture.json`` (module docstring for the conventions).

    Attributes:
        name: short identifier (the folder name by default).
        image: file name of the photo inside the folder.
        image_encoding: ``"srgb"`` or ``"linear"`` transfer function of the stored pixel values.
        image_size: ``[width, height]`` of the stored photo, pixels.
        gyro: file name of the gyro samples (gyro clock, IMU axes, rad/s).
        K: 3x3 intrinsics in stored-image pixels.
        exposure_start_ns: first row's exposure start on the photo clock, ns.
        exposure_ns: exposure time, ns.
        readout_time_s: full-frame rolling-shutter readout, s (0 = global shutter).
        time_offset_ns: gyro clock + offset = photo clock, ns.
        R_imu_to_cam: 3x3, ``w_cam = R @ w_imu``.
        distortion: optional lens distortion coefficients (recorded, not applied: fields assume a pinhole).
        units: the units of the stored files, fixed: ``{"time": "ns", "rate": "rad/s", "pixels": "stored image"}``.
        axes: the axis convention, fixed text (:data:`CAMERA_AXES`).
        source: provenance: importer, format, source files and their sha256, original values.
    """

    image: str
    image_encoding: Literal["srgb", "linear"]
    image_size: tuple[int, int]
    gyro: str
    K: list[list[float]]
    exposure_start_ns: int
    exposure_ns: int
    R_imu_to_cam: list[list[float]]
    readout_time_s: float = 0.0
    time_offset_ns: int = 0
    distortion: list[float] | None = None
    name: str = ""
    format: str = CAPTURE_FORMAT
    units: dict[str, str] = field(default_factory=lambda: {"time": "ns", "rate": "rad/s",
                                                           "pixels": "stored image"})
    axes: str = CAMERA_AXES
    source: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.format != CAPTURE_FORMAT:
            raise ValueError(f"format is {self.format!r}, expected {CAPTURE_FORMAT!r}; re-import the capture")
        K = _matrix(self.K, "K", "intrinsics in stored-image pixels")
        if not (K[0, 0] > 0 and K[1, 1] > 0 and K[2, 0] == 0 and K[2, 1] == 0 and K[2, 2] == 1):
            raise ValueError(f"K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, got {self.K}")
        R = _matrix(self.R_imu_to_cam, "R_imu_to_cam", "w_cam = R @ w_imu")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
            raise ValueError(f"R_imu_to_cam must be orthonormal (R R^T = I), got {self.R_imu_to_cam}")
        self.K = K.tolist()
        self.R_imu_to_cam = R.tolist()
        w, h = (int(v) for v in self.image_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"image_size must be [width, height] > 0, got {self.image_size}")
        self.image_size = (w, h)
        if self.exposure_ns <= 0:
            raise ValueError(f"exposure_ns must be positive (ns), got {self.exposure_ns}")
        if not (self.readout_time_s >= 0 and np.isfinite(self.readout_time_s)):
            raise ValueError(f"readout_time_s must be >= 0 seconds, got {self.readout_time_s}")
        if self.units != {"time": "ns", "rate": "rad/s", "pixels": "stored image"}:
            raise ValueError(f"units must be {{'time': 'ns', 'rate': 'rad/s', 'pixels': 'stored image'}} (the "
                             f"stored files' units), got {self.units}; re-import the capture")

    # -- derived views -----------------------------------------------------------------------------------------
    @property
    def K_matrix(self) -> np.ndarray:
        return np.asarray(self.K, dtype=np.float64)

    @property
    def height(self) -> int:
        return int(self.image_size[1])

    @property
    def width(self) -> int:
        return int(self.image_size[0])

    @property
    def exposure_end_ns(self) -> int:
        """End of the last row's exposure on the photo clock."""
        return int(self.exposure_start_ns + self.exposure_ns + round(self.readout_time_s * 1e9))

    def to_dict(self) -> dict:
        return to_dict(self)

    def replace(self, **changes) -> Capture:
        return dataclasses.replace(self, **changes)

    def recording(self, folder: str | Path) -> GyroRecording:
        """The gyro of this capture on the **photo** clock (``t + time_offset_ns``), body axes + ``R_imu_to_cam``."""
        rec = load_gyro(Path(folder) / self.gyro, R_imu_to_cam=self.R_imu_to_cam)
        if self.time_offset_ns == 0:
            return rec
        return GyroRecording(rec.t_ns + np.int64(self.time_offset_ns), rec.w, rec.R_imu_to_cam,
                             f"{rec.source}(+{self.time_offset_ns} ns)", rec.lines)


def read_image(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a PNG/JPEG/TIFF into (H, W, 3) float32 RGB in [0, 1] (no transfer function applied) and its bits."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: image not found; check the capture folder")
    img = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise ImageError(f"{path}: cannot decode the image (unsupported or corrupt); give a PNG, JPEG or TIFF")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.shape[2] == 4:
        img = img[..., :3]
    img = np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0, 8
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0, 16
    raise ImageError(f"{path}: pixel type {img.dtype} is not supported; give 8- or 16-bit images")


def write_gyro_file(path: str | Path, t_ns: np.ndarray, w: np.ndarray, header: str = "") -> Path:
    """``timestamp_ns wx wy wz`` lines, int ns and rad/s written with ``repr`` (exact round trip)."""
    lines = [f"# {line}" for line in header.splitlines() if line] if header else []
    lines += [f"{int(t)} {a!r} {b!r} {c!r}" for t, (a, b, c) in zip(np.asarray(t_ns).tolist(),
                                                                      np.asarray(w, dtype=np.float64).tolist())]
    return write_text_atomic(path, "\n".join(lines) + "\n")


def load_capture(folder: str | Path) -> tuple[Capture, Path]:
    """Read and validate ``folder/capture.json``; returns ``(capture, folder)``."""
    folder = Path(folder)
    path = folder / "capture.json"
    if not path.is_file():
        raise CaptureError(f"{path}: not found; give a capture folder written by 'gyrobench capture import'")
    try:
        data = json.loads(read_text(path, "capture.json", CaptureError))
    except json.JSONDecodeError as exc:
        raise CaptureError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); fix or re-import") from None
    except ValueError as exc:  # an integer literal too long to convert
        raise CaptureError(f"{path}: not valid JSON ({str(exc)[:80]}); fix or re-import") from None
    if not isinstance(data, dict):
        raise CaptureError(f"{path}: top level must be a JSON object; re-import the capture")
    cap = from_dict(Capture, data, source=str(path))
    for key in ("image", "gyro"):
        value = getattr(cap, key)
        if not isinstance(value, str) or not value or Path(value).name != value:
            raise CaptureError(f"{path}: field '{key}' must be the name of a file inside the capture folder "
                               f"{folder}, not a path; copy the file into the folder and give its name")
        target = inside(folder, value, f"{path}: field '{key}'", CaptureError)
        if not target.is_file():
            raise CaptureError(f"{path}: field '{key}' names {value!r}, which is not in {folder}; "
                               "copy the file back or re-import")
        _check_sha256(cap, key, folder / value, path)
    if not cap.name:
        cap.name = folder.name
    return cap, folder


def _check_sha256(cap: Capture, key: str, file: Path, path: Path) -> None:
    """The file's sha256 against the one recorded at import (``source.<key>_sha256``), when there is one."""
    from ..provenance import sha256_file

    want = (cap.source or {}).get(f"{key}_sha256")
    if isinstance(want, str) and want and sha256_file(file) != want:
        raise CaptureError(f"{file}: its sha256 differs from the one {path.name} recorded at import (field "
                           f"'source.{key}_sha256'): the {'photo' if key == 'image' else 'gyro file'} was replaced "
                           "or changed; put the original back or re-import the capture")


def list_captures(root: str | Path) -> list[Path]:
    """Capture folders: ``root`` itself if it holds ``capture.json``, else its sub-folders that do (sorted)."""
    root = Path(root)
    if (root / "capture.json").is_file():
        return [root]
    if not root.is_dir():
        raise CaptureError(f"{root}: not a folder; give a capture folder or a folder of capture folders")
    found = sorted(p.parent for p in root.glob("*/capture.json"))
    if not found:
        raise CaptureError(f"{root}: no capture.json in it or its sub-folders; import photos with "
                           "'gyrobench capture import'")
    return found


def write_capture(out_dir: str | Path, capture: Capture, *, image_src: str | Path | None = None,
                  image_array: np.ndarray | None = None, gyro_t_ns=None, gyro_w=None) -> Path:
    """Write a capture folder: the image (copied bytes of ``image_src``, or ``image_array`` (H, W, 3) uint8/uint16
    RGB written as PNG), the gyro samples (gyro clock, IMU axes, rad/s) and ``capture.json`` (last, atomically).

    ``capture.image`` / ``capture.gyro`` are set to ``image<ext>`` / ``gyro.txt``. Returns the folder.
    """
    import cv2

    from ..provenance import sha256_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if image_src is not None:
        src = Path(image_src)
        name = "image" + src.suffix.lower()
        tmp = out / f".{name}.tmp"
        shutil.copyfile(src, tmp)
        tmp.replace(out / name)
    elif image_array is not None:
        arr = np.asarray(image_array)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype not in (np.uint8, np.uint16):
            raise ImageError(f"{out}: image_array must be (H, W, 3) uint8 or uint16, got {arr.shape} {arr.dtype}")
        name = "image.png"
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr[..., ::-1]))
        if not ok:
            raise ImageError(f"{out / name}: cannot encode PNG")
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(buf.tobytes())
        tmp.replace(out / name)
    else:
        raise CaptureError("write_capture: give image_src or image_array")
    h, w = read_image(out / name)[0].shape[:2]
    if tuple(capture.image_size) != (w, h):
        raise CaptureError(f"{out / name}: image is {w}x{h} but the capture says {capture.image_size[0]}x"
                           f"{capture.image_size[1]}; fix image_size or the intrinsics' frame")
    if gyro_t_ns is None or gyro_w is None:
        raise CaptureError("write_capture: gyro_t_ns and gyro_w are required")
    write_gyro_file(out / "gyro.txt", gyro_t_ns, gyro_w,
                    header="timestamp_ns (gyro clock) wx wy wz (rad/s, IMU axes); see capture.json")
    capture.image, capture.gyro = name, "gyro.txt"
    capture.source = {**capture.source, "image_sha256": sha256_file(out / name),
                      "gyro_sha256": sha256_file(out / "gyro.txt")}
    if not capture.name:
        capture.name = out.name
    # validate before writing: the record must load back
    from_dict(Capture, json.loads(json.dumps(capture.to_dict())), source=str(out / "capture.json"))
    write_text_atomic(out / "capture.json", json.dumps(capture.to_dict(), indent=1) + "\n")
    return out


def check_gyro_covers(capture: Capture, rec: GyroRecording, where: str, margin_ns: int = 0) -> None:
    """Raise when the gyro (photo clock) does not cover the exposure of every row (plus ``margin_ns``)."""
    a, b = capture.exposure_start_ns - margin_ns, capture.exposure_end_ns + margin_ns
    if rec.t_ns[0] > a or rec.t_ns[-1] < b:
        raise GyroFormatError(f"{where}: the gyro covers [{rec.t_ns[0]}, {rec.t_ns[-1]}] ns on the photo clock but "
                              f"the photo is exposed over [{a}, {b}] ns; check the photo times, their unit and the "
                              "time offset")

