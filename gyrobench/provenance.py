"""Provenance: library versions, file hashes, git commit and machine, recorded in every output.

See docs/conventions.md §5 and §8: manifests, checkpoints and results records carry these.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

_PACKAGES = ("gyrobench", "torch", "torchvision", "numpy", "scipy", "scikit-image", "opencv-python-headless", "h5py",
             "pandas", "joblib", "PyYAML")


def versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of gyrobench and its core libraries (``"absent"`` where not installed)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES + tuple(extra):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj) -> str:
    """Hash of a JSON-able object in canonical form (sorted keys, no spaces)."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def git_commit(path: str | Path | None = None) -> str:
    """The git commit of the checkout that holds ``path`` (default: this package), with ``+dirty`` when
    the tree has uncommitted changes; ``"unknown"`` outside a checkout."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, str | int]:
    """A short description of the machine (CPU, cores, GPU if any)."""
    info: dict[str, str | int] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count() or 0,
    }
    import torch

    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
