"""Dataset building: recipes, sources, seeding, the recipe -> shards pipeline and the import of the official
release. Sits above :mod:`gyrobench.synth` (rendering, degradation) and :mod:`gyrobench.data` (file format,
readers).

Lazy re-exports (importing this package does not import torch or h5py)::

    from gyrobench.builder import load_recipe, synthesize, import_gyroblur
"""

from __future__ import annotations

_EXPORTS = {
    "load_recipe": "recipe", "Recipe": "recipe", "builtin_recipes": "recipe",
    "synthesize": "pipeline", "import_gyroblur": "importer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
