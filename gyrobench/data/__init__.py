"""Datasets on disk: HDF5 shards and manifests (the file format), readers, the torch Dataset, inspection.

Building a dataset (recipes, sources, synthesis, import) is :mod:`gyrobench.builder`.

Lazy re-exports (importing this package does not import torch or h5py)::

    from gyrobench.data import open_dataset, read_sample, verify_dataset
"""

from __future__ import annotations

_EXPORTS = {
    "ShardWriter": "shards", "open_dataset": "shards", "read_sample": "shards", "verify_dataset": "shards",
    "DatasetIndex": "shards", "read_manifest": "manifest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
