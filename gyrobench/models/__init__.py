"""Models behind one registry (docs/conventions.md §2): ``build(name, **options)``, ``available()``, ``load_official``.

Registered names: ``gyrodeblurnet``, ``nafnet`` (width=32|64, tlc), ``deepgyro``, ``eggnet``, ``classical``.
"""

from __future__ import annotations

from .registry import ModelInfo, available, build, info, register

__all__ = ["ModelInfo", "available", "build", "info", "register", "load_official"]


def load_official(name: str, path, **options):
    """Build ``name`` and load an *official* checkpoint into it (``weights_only=True``, ``strict=True``).

    GyroDeblurNet's official file is a bare state_dict; NAFNet's is ``{"params": state_dict}``.
    """
    from .official import load_official as _load

    return _load(name, path, **options)
