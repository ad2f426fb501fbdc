"""Camera-gyro calibration files (YAML or JSON) and the built-in calibrations.

Keys (``docs/captures.md``, "Calibration file"):

- ``K``: 3x3 intrinsics in **full-resolution** pixels of ``image_size`` (required);
- ``image_size``: ``[width, height]`` of that full-resolution frame (required); photos of another size with the
  same aspect ratio get K scaled with the pixel-centre rule ``x' = (x + 0.5) s - 0.5``;
- ``R_imu_to_cam``: 3x3, rates on the camera axes are ``R @ w_imu`` (column vectors), **or**
  ``R_imu_to_cam_rowvec``: 3x3 in the row-vector convention of DeepGyro's calibration (``w_cam = w_imu @ R``);
  exactly one is required (the axes are never guessed);
- ``readout_time_s``: rolling-shutter readout of the full frame (default 0 = global shutter, logged);
- ``time_offset_s``: added to gyro times to put them on the photo clock (default 0, logged);
- ``distortion``: optional coefficients, recorded in the capture (fields assume a pinhole camera).

Built-in names (``--calibration NAME``): ``gyroblur-real-s22``, the Galaxy S22 wide camera of GyroBlur-Real
(``docs/captures.md``: fx 3182.59180, fy 3179.29832, cx 1458.68721, cy 2114.25739 on the 3040x4000 portrait
frame; the real-data axis convention ``R = diag(1, -1, -1)``; global shutter and zero offset as the official
real-data script assumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import from_dict, load_mapping
from ..errors import RecipeError
from ..gyro.recording import R_GYROBLUR_REAL
from ..log import get_logger

__all__ = ["Calibration", "load_calibration", "BUILTIN_CALIBRATIONS", "scale_K"]

log = get_logger("capture")


@dataclass
class Calibration:
    """A camera-gyro calibration (module docstring); ``source`` names the file it came from."""

    K: list[list[float]]
    image_size: tuple[int, int]
    R_imu_to_cam: list[list[float]] | None = None
    R_imu_to_cam_rowvec: list[list[float]] | None = None
    readout_time_s: float | None = None
    time_offset_s: float | None = None
    distortion: list[float] | None = None
    source: str = "<calibration>"

    def __post_init__(self):
        K = np.asarray(self.K, dtype=np.float64)
        if K.shape != (3, 3) or not np.isfinite(K).all() or not (K[0, 0] > 0 and K[1, 1] > 0):
            raise ValueError(f"K must be a 3x3 matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {self.K}")
        if self.image_size[0] <= 0 or self.image_size[1] <= 0:
            raise ValueError(f"image_size must be [width, height] > 0, got {list(self.image_size)}")
        given = [k for k in ("R_imu_to_cam", "R_imu_to_cam_rowvec") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError("give either R_imu_to_cam (w_cam = R @ w) or R_imu_to_cam_rowvec (w_cam = w @ R), "
                             "not both")
        for k in given:
            R = np.asarray(getattr(self, k), dtype=np.float64)
            if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
                raise ValueError(f"{k} must be an orthonormal 3x3 matrix, got {getattr(self, k)}")
        if self.readout_time_s is not None and not self.readout_time_s >= 0:
            raise ValueError(f"readout_time_s must be >= 0 seconds, got {self.readout_time_s}")

    def rotation(self) -> np.ndarray:
        """``R_imu_to_cam`` in the column convention (``w_cam = R @ w``); an error naming the fix when absent."""
        if self.R_imu_to_cam is not None:
            return np.asarray(self.R_imu_to_cam, dtype=np.float64)
        if self.R_imu_to_cam_rowvec is not None:
            return np.asarray(self.R_imu_to_cam_rowvec, dtype=np.float64).T
        raise RecipeError(f"{self.source}: missing key 'R_imu_to_cam'; state the IMU-to-camera rotation (camera "
                          "axes x right, y down, z forward), e.g. R_imu_to_cam: [[1,0,0],[0,1,0],[0,0,1]] when the "
                          "gyro axes already are the camera's")

    def readout(self) -> float:
        if self.readout_time_s is None:
            log.info("%s: no readout_time_s, assuming a global shutter (0 s)", self.source)
            return 0.0
        return float(self.readout_time_s)

    def offset_ns(self) -> int:
        if self.time_offset_s is None:
            log.info("%s: no time_offset_s, assuming the gyro and photo clocks agree (0 s)", self.source)
            return 0
        return int(round(float(self.time_offset_s) * 1e9))

    def K_for(self, image_wh: tuple[int, int], where: str) -> np.ndarray:
        """K scaled to a photo of ``image_wh`` (same aspect ratio within 1 %), else an error naming the fix."""
        W, H = self.image_size
        w, h = image_wh
        if (w, h) == (W, H):
            return np.asarray(self.K, dtype=np.float64)
        if abs(w / h - W / H) > 0.01 * W / H:
            raise RecipeError(f"{where}: the photo is {w}x{h} but the calibration {self.source} is for {W}x{H} "
                              "(another aspect ratio); give the calibration of this image size")
        return scale_K(self.K, (W, H), (w, h))

    def record(self) -> dict:
        return {"source": self.source, "K": np.asarray(self.K).tolist(), "image_size": list(self.image_size),
                "R_imu_to_cam": self.rotation().tolist(), "readout_time_s": self.readout_time_s,
                "time_offset_s": self.time_offset_s, "distortion": self.distortion}


def scale_K(K, from_wh: tuple[int, int], to_wh: tuple[int, int]) -> np.ndarray:
    """Intrinsics after resizing ``from_wh`` -> ``to_wh`` (pixel centres: ``x' = (x + 0.5) s - 0.5``)."""
    sx, sy = to_wh[0] / from_wh[0], to_wh[1] / from_wh[1]
    S = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return S @ np.asarray(K, dtype=np.float64)


#: name -> mapping of a calibration file
BUILTIN_CALIBRATIONS: dict[str, dict] = {
    "gyroblur-real-s22": {
        "K": [[3182.59180, 0.0, 1458.68721], [0.0, 3179.29832, 2114.25739], [0.0, 0.0, 1.0]],
        "image_size": [3040, 4000],
        "R_imu_to_cam": R_GYROBLUR_REAL.tolist(),
        "readout_time_s": 0.0,
        "time_offset_s": 0.0,
    },
}


def load_calibration(spec: str | Path | dict) -> Calibration:
    """A calibration from a YAML/JSON file, a built-in name (:data:`BUILTIN_CALIBRATIONS`) or a mapping."""
    if isinstance(spec, dict):
        return from_dict(Calibration, {**spec, "source": spec.get("source", "<mapping>")}, source="<mapping>")
    text = str(spec)
    if text in BUILTIN_CALIBRATIONS:
        return from_dict(Calibration, {**BUILTIN_CALIBRATIONS[text], "source": f"builtin:{text}"},
                         source=f"builtin:{text}")
    path = Path(text)
    if not path.is_file():
        raise RecipeError(f"{path}: calibration file not found; give a YAML/JSON file with K, image_size and "
                          f"R_imu_to_cam, or a built-in name ({', '.join(BUILTIN_CALIBRATIONS)})")
    data = load_mapping(path)
    if "source" in data:
        raise RecipeError(f"{path}: unknown key 'source'; valid keys: K, image_size, R_imu_to_cam, "
                          "R_imu_to_cam_rowvec, readout_time_s, time_offset_s, distortion")
    return from_dict(Calibration, {**data, "source": str(path)}, source=str(path))
