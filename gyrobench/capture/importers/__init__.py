"""Importers: device logs and photos -> capture folders (``gyrobench capture import``; ``docs/captures.md``).

``import_captures(src, fmt, out, calibration=..., **options)`` dispatches to one module per format and returns
the capture folders written (one per photo).
"""

from __future__ import annotations

from pathlib import Path

from ..calibration import load_calibration
from ..format import CaptureError
from .common import PhotoSpec, parse_photo_arg, read_photo_list
from .csvlog import import_csv
from .deepgyro import import_deepgyro
from .gcsv import import_gcsv
from .gyroblur_real import import_gyroblur_real

__all__ = ["IMPORTERS", "import_captures", "PhotoSpec", "parse_photo_arg", "read_photo_list"]

IMPORTERS = {"gyroblur-real": import_gyroblur_real, "deepgyro": import_deepgyro, "gcsv": import_gcsv,
             "csv": import_csv}


def import_captures(src, fmt: str, out, *, calibration=None, image_encoding: str | None = None, **options):
    """Import ``src`` in format ``fmt`` into capture folders under ``out``; returns their paths."""
    if fmt not in IMPORTERS:
        raise CaptureError(f"unknown capture format {fmt!r}; choose one of {', '.join(IMPORTERS)}")
    if image_encoding not in (None, "srgb", "linear"):
        raise CaptureError(f"--image-encoding {image_encoding!r}: use srgb (display-encoded) or linear")
    cal = load_calibration(calibration) if calibration is not None and not hasattr(calibration, "rotation") \
        else calibration
    return IMPORTERS[fmt](Path(src), Path(out), calibration=cal, image_encoding=image_encoding, **options)
