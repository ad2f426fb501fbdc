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
from typing import Any

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


# environment variables that change which CPU kernels run, and so the last bits of a CPU result (docs/cpu-study.md)
_NUMERICS_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OPENBLAS_CORETYPE",
                 "OPENCV_CPU_DISABLE", "OMP_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``; ``"unknown"`` if neither)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """A short description of the machine (CPU model, cores, torch's CPU kernel level, GPU if any).

    ``torch_cpu_capability`` is the instruction set torch's CPU kernels dispatch to (``DEFAULT``, ``AVX2``,
    ``AVX512``; the environment variable ``ATEN_CPU_CAPABILITY`` lowers it): the vectorized and the scalar kernels
    round differently, so two machines can synthesize and train to different last bits (docs/cpu-study.md).
    ``numerics_env``: those of the variables that select CPU kernels or thread counts (MKL_CBWR,
    ONEDNN_MAX_CPU_ISA, ...) that are set, if any.
    """
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count() or 0,
        "torch_cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
    }
    info["torch_threads"] = torch.get_num_threads()
    env = {k: os.environ[k] for k in _NUMERICS_ENV if k in os.environ}
    if env:
        info["numerics_env"] = env
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
