"""One place that turns a device option (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``) into a torch device.

Used by ``gyrobench eval``, ``gyrobench train`` (and its DDP setup) and ``gyrobench synth``, so an unusable
device is one :class:`~gyrobench.errors.GyrobenchError` line naming the option and the fix instead of a torch
traceback (e.g. ``AssertionError: Torch not compiled with CUDA enabled``).
"""

from __future__ import annotations

import torch

from .errors import GyrobenchError

__all__ = ["resolve_device"]


def resolve_device(spec: str | torch.device | None = "auto", *, local_rank: int | None = None,
                   option: str = "--device") -> torch.device:
    """The torch device for ``spec``, checked to exist on this machine.

    ``"auto"`` (or None): ``cuda`` if available, else ``cpu``. ``local_rank``: the index for ``auto``/bare
    ``cuda`` (one GPU per DDP process). ``option``: how the user gave it (``--device``, config key ``device``),
    named in the error.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank) if local_rank is not None else torch.device("cuda")
        return torch.device("cpu")
    try:
        dev = torch.device(spec.strip() if isinstance(spec, str) else spec)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise GyrobenchError(f"{option}={spec}: not a torch device; use auto, cpu, cuda, cuda:N or mps") from exc
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible (driver, CUDA_VISIBLE_DEVICES)")
            raise GyrobenchError(f"{option}={spec}: {why} (torch {torch.__version__}); use {option}=cpu (or auto), "
                                 "or install a CUDA build of torch")
        if dev.index is None and local_rank is not None:
            dev = torch.device("cuda", local_rank)
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise GyrobenchError(f"{option}={spec}: CUDA device {dev.index} does not exist ({n} visible); "
                                 f"use cuda:0..cuda:{n - 1}")
        return dev
    if dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise GyrobenchError(f"{option}={spec}: MPS is not available on this machine; use {option}=cpu")
        return dev
    raise GyrobenchError(f"{option}={spec}: device type '{dev.type}' is not supported; use auto, cpu, cuda, "
                         "cuda:N or mps")
