"""Training checkpoints (docs/conventions.md §4): atomic saves, safe loads, model rebuild.

A checkpoint is a plain dict saved with :func:`torch.save`::

    {"format": "gyrobench-checkpoint/1", "model": name, "options": {...}, "state_dict": ..., "step": int,
     "optimizer": ..., "scheduler": ..., "rng": ..., "config": {...}, "git_commit": str, "versions": {...}}

Only tensors, numbers, strings, lists, tuples and dicts go in, so that :func:`load_checkpoint` can use
``torch.load(..., weights_only=True)``. A file carrying pickled code (any custom class or function) is refused
with :class:`~gyrobench.errors.CheckpointError`, never executed.

RNG states are stored as tensors / plain lists (:func:`capture_rng`), not as NumPy objects, for the same reason.

Integrity: :func:`save_checkpoint` adds ``"integrity": {"algorithm": "sha256", "digest": hex}``, a sha256 over
every other field (weights, optimizer and scheduler state, RNG, step, config: :func:`content_digest`), and
:func:`load_checkpoint` recomputes it. A mismatch (bytes flipped inside a tensor, a half-copied file that still
unzips) is a :class:`~gyrobench.errors.CheckpointError` naming the file. Files written before the digest existed
load with a warning.
"""

from __future__ import annotations

import errno
import hashlib
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, DiskFullError
from ..io import atomic_open, disk_full_message
from ..log import get_logger

__all__ = [
    "FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "model_from_checkpoint",
    "capture_rng",
    "restore_rng",
    "content_digest",
]

FORMAT = "gyrobench-checkpoint/1"
_REQUIRED = ("format", "model", "options", "state_dict")
#: first bytes of torch.save files: a zip archive (default since torch 1.6) or the legacy pickle format, whose
#: first record is the pickled magic number 0x1950a86a20f9469cfc6c (protocol 2)
_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."
log = get_logger("train.checkpoint")


def _feed(h, obj: Any) -> None:
    """Feed a canonical, type-tagged encoding of ``obj`` (the plain data a checkpoint may hold) to ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(f"{'L' if isinstance(obj, list) else 'U'}{len(obj)}".encode())
        for v in obj:
            _feed(h, v)
    elif isinstance(obj, (str, bytes)):
        b = obj.encode() if isinstance(obj, str) else obj
        h.update(f"{'S' if isinstance(obj, str) else 'B'}{len(b)}:".encode())
        h.update(b)
    elif obj is None or isinstance(obj, (bool, int, float, complex, torch.dtype, torch.device, torch.Size)):
        h.update(f"V{type(obj).__name__}:{obj!r};".encode())
    else:  # numpy scalars and the like: their repr is stable
        h.update(f"X{type(obj).__name__}:{obj!r};".encode())


def content_digest(fields: dict) -> str:
    """sha256 (hex) of every field of a checkpoint dict except ``integrity``: tensors by dtype, shape and bytes
    (so the digest does not depend on torch's file layout), containers in sorted-key order."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in fields.items() if k != "integrity"})
    return h.hexdigest()


def save_checkpoint(path: str | Path, **fields: Any) -> Path:
    """Write ``fields`` (plus ``format`` and the ``integrity`` digest) to ``path`` atomically: a temporary file
    in the same folder, fsync, then :func:`os.replace`, so a crash never leaves a truncated checkpoint under the
    final name."""
    path = Path(path)
    payload = {"format": FORMAT, **fields}
    payload.pop("integrity", None)
    payload["integrity"] = {"algorithm": "sha256", "digest": content_digest(payload)}
    try:
        with atomic_open(path, "wb") as fh:
            torch.save(payload, fh)
    except RuntimeError as exc:  # torch's zip writer reports a failed write (a full disk) as a RuntimeError
        if "fail" in str(exc).lower() and "writ" in str(exc).lower():
            raise DiskFullError(disk_full_message(path, _payload_bytes(payload))) from exc
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(disk_full_message(path, _payload_bytes(payload))) from exc
        raise
    return path


def _payload_bytes(obj) -> int:
    """Bytes of the tensors in a checkpoint payload (what its file needs, roughly)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_payload_bytes(v) for v in obj)
    return 64


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a gyrobench checkpoint with ``weights_only=True``.

    Raises :class:`CheckpointError` (naming the file and the fix) when the file is missing, is not a torch
    file, carries pickled code (custom classes or functions), or lacks the docs/conventions.md §4 fields.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; give the path of a .pt file written by "
                              "'gyrobench train'")
    with open(path, "rb") as fh:
        head = fh.read(len(_LEGACY_MAGIC))
    if not (head.startswith(_ZIP_MAGIC) or head == _LEGACY_MAGIC):
        raise CheckpointError(f"{path}: not a torch checkpoint (neither torch.save's zip format nor its legacy "
                              f"pickle format; the file starts with {head[:8]!r}); give the .pt file written by "
                              "'gyrobench train' (official weights: gyrobench.models.load_official)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: refused to load: the file carries pickled Python objects that are not plain data "
            f"({first[:200]}); only weights_only checkpoints are accepted; re-save it with "
            "gyrobench.train.checkpoint.save_checkpoint from a trusted environment") from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); the file may be truncated or of another format") from exc
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(ckpt).__name__}; official "
                              "weights load through gyrobench.models.load_official(name, path)")
    if ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: field 'format' is {ckpt.get('format')!r}, expected {FORMAT!r}; official "
                              "weights load through gyrobench.models.load_official(name, path)")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: missing field(s) {', '.join(missing)}; the checkpoint is incomplete")
    _check_integrity(path, ckpt)
    _check_finite(path, ckpt["state_dict"])
    return ckpt


def _check_finite(path: Path, state_dict) -> None:
    """Every floating-point weight must be finite: NaN or inf weights (a diverged run, a damaged file that was
    re-digested) would score "no metric" instead of failing."""
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: field 'state_dict' must be a mapping of tensors, got "
                              f"{type(state_dict).__name__}; the checkpoint is damaged")
    for key, t in state_dict.items():
        if isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex()) and not bool(
                torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(f"{path}: field 'state_dict': tensor {key!r} holds {bad} NaN or infinite "
                                  "value(s) (a diverged run?); use an earlier checkpoint or retrain")


def _check_integrity(path: Path, ckpt: dict) -> None:
    """Recompute the ``integrity`` digest (module docstring); a mismatch is a :class:`CheckpointError`."""
    integ = ckpt.get("integrity")
    if integ is None:
        log.warning("%s: no integrity digest (written by an older gyrobench); its contents cannot be verified", path)
        return
    if not isinstance(integ, dict) or integ.get("algorithm") != "sha256" or not isinstance(integ.get("digest"), str):
        raise CheckpointError(f"{path}: field 'integrity' is malformed ({integ!r:.120}); the file is damaged or was "
                              "not written by gyrobench.train.checkpoint.save_checkpoint")
    got = content_digest(ckpt)
    if got != integ["digest"]:
        raise CheckpointError(f"{path}: contents do not match the checkpoint's integrity digest (sha256 "
                              f"{got[:12]}... vs recorded {integ['digest'][:12]}...): the file is corrupt or was "
                              "modified; use another checkpoint (e.g. a step-NNNNNNN.pt) or retrain")


def model_from_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", strict: bool = True):
    """Rebuild the model named in the checkpoint with its options and load the weights.

    Returns ``(model, ckpt)``; the model is in eval mode on ``map_location``.
    """
    from ..models import build

    ckpt = load_checkpoint(path, map_location=map_location)
    model = build(ckpt["model"], **dict(ckpt["options"]))
    try:
        model.load_state_dict(ckpt["state_dict"], strict=strict)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: field 'state_dict' does not match model '{ckpt['model']}' with options "
                              f"{ckpt['options']}: {str(exc).splitlines()[0]}") from exc
    model.to(map_location).eval()
    return model, ckpt


def capture_rng() -> dict:
    """Global RNG states (torch CPU/CUDA, NumPy legacy, Python) as weights_only-safe values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {
        "torch_cpu": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)},
        "python": {"version": int(py_version), "state": [int(v) for v in py_state],
                   "gauss_next": py_gauss},
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    """Inverse of :func:`capture_rng` (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["torch_cpu"])
    n = state["numpy"]
    np.random.set_state((n["kind"], np.asarray(n["keys"].numpy(), dtype=np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))
    if "torch_cuda" in state and torch.cuda.is_available():
        cuda = state["torch_cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            log.warning("checkpoint has %d CUDA RNG states, this machine %d devices: CUDA RNG not restored",
                        len(cuda), torch.cuda.device_count())
