"""Load *official* checkpoints into gyrobench models (docs/conventions.md §4).

- GyroDeblurNet (``ckpt_gyroblur_synth_epoch_300.pt``): a bare state_dict (test.py, gyrodeblurnet.md §5.4). Also
  accepted: the training format ``{"model_state_dict": ...}`` of train.py, and the older key prefixes
  ``temp_align_blk`` → ``gyro_refine_blk``, ``middle_gyro_blk`` → ``gyro_deblurring_blk`` that the official
  test.py renames in commented-out code.
- NAFNet (``NAFNet-GoPro-width{32,64}.pth``): a BasicSR file ``{"params": state_dict}`` (``params_ema`` is used
  when ``params`` is absent); a leading ``module.`` is stripped (baselines.md §2.5).
- DeepGyro / DeepBlind (``DeepGyro.hdf5``, ``DeepBlind.hdf5``): Keras 2 HDF5 weights, ported by
  :func:`gyrobench.models.deepgyro.load_keras_weights` (baselines.md §3.6; pass ``blind=True`` for DeepBlind).

Files are read with ``torch.load(..., weights_only=True)`` (no pickled code runs) and loaded with
``strict=True``; any mismatch raises :class:`~gyrobench.errors.CheckpointError` naming the file, the missing and
unexpected keys and the shape mismatches.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..log import get_logger
from .registry import build

__all__ = ["load_official", "read_state_dict", "check_state_dict"]

log = get_logger("models.official")

_RENAMES = {
    "gyrodeblurnet": (("temp_align_blk", "gyro_refine_blk"), ("middle_gyro_blk", "gyro_deblurring_blk"))
}


def read_state_dict(path, name: str) -> dict[str, torch.Tensor]:
    """Read the state_dict of an official checkpoint of model ``name`` (weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no such checkpoint file; pass the path of the official '{name}' weights"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: cannot be read with torch.load(weights_only=True) ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); only tensor checkpoints are accepted, "
            "re-save it as a plain state_dict"
        ) from exc
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    for key in ("params", "params_ema", "model_state_dict", "state_dict"):
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    sd = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(
                f"{path}: entry '{k}' is a {type(v).__name__}, not a tensor; "
                "expected a bare state_dict (or {'params': state_dict} for NAFNet)"
            )
        k = k[len("module.") :] if k.startswith("module.") else k
        for old, new in _RENAMES.get(name, ()):
            k = k.replace(old, new)
        sd[k] = v
    return sd


def check_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise CheckpointError unless ``sd`` has exactly the model's keys and shapes."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k} {tuple(sd[k].shape)} != {tuple(own[k].shape)}"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:

        def few(items):
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {few(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {few(shapes)}")
        raise CheckpointError(
            f"{source}: does not match model '{getattr(model, 'name', type(model).__name__)}' "
            f"with options {getattr(model, 'options', {})}: "
            + "; ".join(parts)
            + ". Check the model name/options (e.g. width=64) or the file."
        )


def load_official(name: str, path, **options) -> torch.nn.Module:
    """Build model ``name`` with ``options`` and load the official weights at ``path`` (strict).

    Returns the model in eval mode. Example: ``load_official("nafnet", "NAFNet-GoPro-width64.pth", width=64)``.
    ``deepgyro`` reads the official Keras HDF5 file (:func:`gyrobench.models.deepgyro.load_keras_weights`).
    """
    model = build(name, **options)
    if name == "deepgyro":
        from .deepgyro import load_keras_weights

        if not Path(path).is_file():
            raise CheckpointError(f"{path}: no such weights file; pass the path of the official DeepGyro.hdf5")
        load_keras_weights(model, path)
        _check_finite(model, path)
        log.info("loaded official deepgyro Keras weights from %s", path)
        return model.eval()
    sd = read_state_dict(path, name)
    check_state_dict(model, sd, str(path))
    model.load_state_dict(sd, strict=True)
    _check_finite(model, path)
    log.info("loaded official %s weights from %s (%d tensors)", name, path, len(sd))
    return model.eval()


def _check_finite(model: torch.nn.Module, path) -> None:
    """Official weights must be finite: NaN or inf weights would score "no metric" instead of failing."""
    for key, t in model.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: tensor {key!r} holds NaN or infinite values; the weights file is "
                                  "damaged: download it again")
