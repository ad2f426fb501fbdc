"""Shared fixtures and skip rules.

- ``shared_dir``: the project's ``../shared`` folder; tests that need it skip with the reason in a user's clone.
- markers ``gpu``, ``iqa``, ``dist`` skip cleanly when CUDA, the iqa extra or dask.distributed are missing.
- ``smoke_data``: the builtin ``smoke`` recipe synthesized once per session (read-only for the tests).
- ``official_keys``: reads an official ``state_dict`` key/shape listing from ``shared/specs``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GYROBENCH_SHARED", ROOT.parent / "shared"))


def pytest_configure(config):
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))


def _has(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def pytest_collection_modifyitems(config, items):
    import torch

    has_cuda = torch.cuda.is_available()
    iqa_ok = _has("pyiqa") and _has("torchvision")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device; none here"))
        if "iqa" in item.keywords and not iqa_ok:
            item.add_marker(pytest.mark.skip(
                reason="needs the iqa extra (pyiqa + torchvision); .ci/run runs these in .venv-iqa"))
        if "dist" in item.keywords and not _has("distributed"):
            item.add_marker(pytest.mark.skip(reason="needs dask.distributed (pip install gyrobench[dist])"))
        if "shared" in item.keywords and not SHARED.is_dir():
            item.add_marker(pytest.mark.skip(reason=f"needs the project's shared data at {SHARED} (absent in a user's clone)"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared``; skips the test (saying why) where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the project's shared data at {SHARED} (absent in a user's clone)")
    return SHARED


@pytest.fixture(scope="session")
def gyro_train_path(shared_dir) -> Path:
    p = shared_dir / "data" / "gyro" / "gyro_train.txt"
    if not p.is_file():
        pytest.skip(f"{p} not found")
    return p


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory) -> Path:
    """The builtin 'smoke' recipe (48x48 test images, 3 test samples), synthesized once; do not modify it."""
    from gyrobench.builder.pipeline import synthesize

    out = tmp_path_factory.mktemp("smoke")
    synthesize("smoke", out)
    return out


@pytest.fixture(scope="session")
def official_keys(shared_dir):
    """``official_keys(name)`` -> ``[(key, shape), ...]`` from ``shared/specs/<name>`` (``key<TAB>(d0, d1, ...)``
    per line, ``#`` comments), in file order."""

    def read(name: str) -> list[tuple[str, tuple[int, ...]]]:
        out = []
        for line in (shared_dir / "specs" / name).read_text().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            key, shape = line.split("\t")
            out.append((key, tuple(int(v) for v in shape.strip("()").split(",") if v.strip())))
        return out

    return read
