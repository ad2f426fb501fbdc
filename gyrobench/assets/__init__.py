"""Data files shipped inside the package (see ``kodak/PROVENANCE.md`` and ``handshake/``).

- ``kodak/``: 12 Kodak photographs, 500x500 8-bit sRGB PNG (``docs/conventions.md`` §9, the embedded demo).
- ``handshake/``: fitted parameters of the synthetic hand-shake generator (never the recording itself).

The paths are real files on disk for a normal (editable or wheel) install; ``importlib.resources.as_file`` is
used so that zipped installs still yield readable paths while the interpreter runs.
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

_STACK = ExitStack()
atexit.register(_STACK.close)


def asset_dir(name: str = "") -> Path:
    """Filesystem path of ``gyrobench/assets/<name>`` (a folder), valid for the life of the process."""
    ref = resources.files(__name__)
    if name:
        ref = ref.joinpath(name)
    return Path(_STACK.enter_context(resources.as_file(ref)))


def kodak_paths() -> list[Path]:
    """The 12 shipped Kodak images (500x500 sRGB PNG, RGB), sorted by file name.

    >>> [p.name for p in kodak_paths()][:2]
    ['kodim01.png', 'kodim03.png']
    """
    folder = asset_dir("kodak")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    if not paths:
        from ..errors import GyrobenchError

        raise GyrobenchError(
            f"{folder}: no Kodak PNGs found; the package data is missing, reinstall gyrobench"
        )
    return paths


def handshake_dir() -> Path:
    """Folder holding the fitted hand-shake models (``*.json``)."""
    return asset_dir("handshake")
