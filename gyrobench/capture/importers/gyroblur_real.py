"""``gyroblur-real``: GyroBlur-Real scene folders (Galaxy S22) -> one capture per scene.

Each scene folder holds ``blurry.png`` (the processed network input; ``blurry.dng`` is recorded when present
but not decoded), ``image_info.txt`` (8 numbers: ``timestamp_ns ISO exposure_ns fx fy cx cy skew``) and
``gyro.txt`` (``timestamp_ns wx wy wz``, rad/s, raw S22 axes). ``SRC`` is one scene folder or a folder of them.

Conventions (``docs/captures.md``, "GyroBlur-Real"):

- the photo and the gyro share one clock; the image timestamp is the exposure start;
- the default calibration is the built-in ``gyroblur-real-s22``: the S22 intrinsics hard-coded by the official
  real-data script (the intrinsics in ``image_info.txt`` are ignored there too and only recorded here), scaled
  from 3040x4000 to the PNG's size, and the real-data rotation convention: the official script's net increment
  ``Rx(-x) Ry(+y) Rz(+z)`` on the raw axes equals gyrobench's ``Rx(-x) Ry(-y) Rz(-z)`` after
  ``R_imu_to_cam = diag(1, -1, -1)`` (a reversed field costs several dB);
- ``blurry.png`` is taken to be **linear** (the official script demosaics with gamma 1 and feeds the network
  without a transfer function); ``--image-encoding srgb`` overrides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import GyroFormatError
from ...gyro.recording import GyroRecording, parse_gyro_text, validate_gyro
from ...textfiles import read_text
from ..calibration import Calibration, load_calibration
from ..format import CaptureError
from .common import fail, make_capture

__all__ = ["import_gyroblur_real", "read_image_info", "read_gyro_txt"]

INFO_FIELDS = ("timestamp_ns", "iso", "exposure_ns", "fx", "fy", "cx", "cy", "skew")


def read_image_info(path: Path) -> dict:
    """The 8 fields of ``image_info.txt`` (whitespace/comma separated, any line layout, ``#`` comments)."""
    if not path.is_file():
        fail(path, None, "not found; each GyroBlur-Real scene needs image_info.txt "
                         "(timestamp_ns ISO exposure_ns fx fy cx cy skew)", CaptureError)
    values, lines = [], []
    for k, raw in enumerate(read_text(path, "GyroBlur real text file", GyroFormatError).splitlines(), start=1):
        s = raw.split("#", 1)[0].replace(",", " ").split()
        values += s
        lines += [k] * len(s)
    if len(values) != len(INFO_FIELDS):
        fail(path, lines[len(INFO_FIELDS)] if len(values) > len(INFO_FIELDS) else (lines[-1] if lines else None),
             f"expected {len(INFO_FIELDS)} values ({' '.join(INFO_FIELDS)}), found {len(values)}; fix the file",
             CaptureError)
    out = {}
    for name, v, k in zip(INFO_FIELDS, values, lines):
        try:
            out[name] = int(v) if name in ("timestamp_ns", "exposure_ns") else float(v)
        except ValueError:
            fail(path, k, f"field {name} is {v!r}, not a number"
                          f"{' (integer nanoseconds)' if name.endswith('_ns') else ''}; fix the value", CaptureError)
    if out["exposure_ns"] <= 0:
        fail(path, lines[2], f"exposure_ns is {out['exposure_ns']}; it must be a positive number of nanoseconds",
             CaptureError)
    return out


def read_gyro_txt(path: Path) -> GyroRecording:
    """``timestamp_ns wx wy wz`` (rad/s) with the line-numbered validation of :func:`validate_gyro`."""
    if not path.is_file():
        fail(path, None, "not found; each GyroBlur-Real scene needs gyro.txt (timestamp_ns wx wy wz, rad/s)")
    t, w, lines = parse_gyro_text(read_text(path, "GyroBlur real text file", GyroFormatError), str(path))
    validate_gyro(t, w, str(path), lines=lines, min_samples=2)
    return GyroRecording(np.asarray(t, dtype=np.int64), w, np.eye(3), str(path), lines)


def _scenes(src: Path) -> list[Path]:
    if (src / "image_info.txt").is_file():
        return [src]
    if not src.is_dir():
        raise CaptureError(f"{src}: not a folder; give a GyroBlur-Real scene folder or a folder of scene folders")
    scenes = sorted(p for p in src.iterdir() if p.is_dir() and (p / "image_info.txt").is_file())
    if not scenes:
        raise CaptureError(f"{src}: no scene folder with image_info.txt found; give the GyroBlur-Real root folder")
    return scenes


def import_gyroblur_real(src: Path, out: Path, *, calibration: Calibration | None = None,
                         image_encoding: str | None = None, **_ignored) -> list[Path]:
    cal = calibration or load_calibration("gyroblur-real-s22")
    enc = image_encoding or "linear"
    folders = []
    for scene in _scenes(Path(src)):
        info = read_image_info(scene / "image_info.txt")
        rec = read_gyro_txt(scene / "gyro.txt")
        png = scene / "blurry.png"
        if not png.is_file():
            raise CaptureError(f"{png}: not found; the importer reads the processed blurry.png of each scene "
                               "(blurry.dng is not decoded)")
        source = {"importer": "gyroblur-real", "scene": str(scene), "image_info": info,
                  "dng": str(scene / "blurry.dng") if (scene / "blurry.dng").is_file() else None,
                  "image_encoding_rule": ("default: blurry.png is the linear network input of the official "
                                          "real-data script" if image_encoding is None else "--image-encoding"),
                  "note": "image_info intrinsics recorded only; K comes from the calibration (as the official "
                          "script, which hard-codes the S22 intrinsics)"}
        folders.append(make_capture(Path(out), scene.name, png, image_encoding=enc, start_ns=info["timestamp_ns"],
                                    exposure_ns=info["exposure_ns"], rec=rec, calibration=cal, source=source,
                                    where=str(scene / "image_info.txt")))
    return folders
