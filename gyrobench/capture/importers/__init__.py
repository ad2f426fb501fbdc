"""Importers: device logs and photos -> capture folders (``gyrobench capture import``; ``docs/captures.md``).

``import_captures(src, fmt, out, calibration=..., **options)`` dispatches to one module per format and returns
the capture folders written (one per photo).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ...folders import check_folder, claim
from ...io import _alive, swap_dirs
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


def import_captures(src, fmt: str, out, *, calibration=None, image_encoding: str | None = None,
                    overwrite: bool = False, **options):
    """Import ``src`` in format ``fmt`` into capture folders under ``out``; returns their paths.

    ``out`` belongs to imported captures (:mod:`gyrobench.folders`: a folder of capture folders, or empty). The
    captures are written into a hidden staging folder inside ``out`` first and moved into place only when every
    photo imported, so a failure leaves ``out`` as it was. A capture folder of the same name already in ``out``
    is refused unless ``overwrite`` (it is then replaced whole)."""
    if fmt not in IMPORTERS:
        raise CaptureError(f"unknown capture format {fmt!r}; choose one of {', '.join(IMPORTERS)}")
    if image_encoding not in (None, "srgb", "linear"):
        raise CaptureError(f"--image-encoding {image_encoding!r}: use srgb (display-encoded) or linear")
    cal = load_calibration(calibration) if calibration is not None and not hasattr(calibration, "rotation") \
        else calibration
    out = Path(out)
    with claim(out, "captures"):
        for stale in out.glob(".gyrobench-tmp-import-*"):  # left by a killed import whose process is gone
            pid = stale.name.split("-")[3] if stale.name.count("-") >= 4 else ""
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=f".gyrobench-tmp-import-{os.getpid()}-", dir=out))
        try:
            made = IMPORTERS[fmt](Path(src), stage, calibration=cal, image_encoding=image_encoding, **options)
            clash = [p.name for p in made if (out / p.name).exists()]
            if clash and not overwrite:
                raise CaptureError(f"--out {out}: already holds a capture named {clash[0]!r}; pass --overwrite to "
                                   "replace the captures this import makes, or choose another --out")
            for name in clash:
                check_folder(out / name, "capture", replace=True, flag="--out")
            final = []
            for p in made:
                swap_dirs(p, out / p.name)
                final.append(out / p.name)
            return final
        finally:
            shutil.rmtree(stage, ignore_errors=True)
