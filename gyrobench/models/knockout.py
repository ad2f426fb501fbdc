"""Path knock-outs: how much of a trained model's result each of its paths carries (issue 22, docs/gyro-path.md).

A block can be alive (``gyrobench.models.health``) and still carry nothing, because the network routes its result
around it. A U-Net decoder level adds the upsampled deeper features to the encoder's skip, ``decoder(up(x) + skip)``;
zeroing the input of ``up`` removes every level deeper than that one, and the PSNR lost is what the deeper levels
carry. GyroDeblurNet's gyro-deblurring blocks sit at the deepest level (1/8), so where that level carries nothing,
no gyro path through them can change the result.

Cuts (by name; :func:`cuts` lists those a model has):

- ``"1/F and deeper"``, for each decoder level of a model with ``ups`` (GyroDeblurNet, NAFNet): the input of that
  level's ``up`` is replaced by zeros (F = the deeper level's downsampling factor: 8, 4 and 2 for GyroDeblurNet);
- ``"gyro-deblurring blocks"`` (GyroDeblurNet): every GDB returns its input unchanged (its contribution removed;
  for ``gdb_residual`` that is ``s = 0``).

A cut is made of forward hooks attached only inside :func:`cut` (no global state, the weights untouched).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["cuts", "cut", "GDB_CUT"]

GDB_CUT = "gyro-deblurring blocks"


def cuts(model: nn.Module) -> list[str]:
    """The cuts ``model`` supports, deepest path first (module docstring); empty for other architectures."""
    ups = getattr(model, "ups", None)
    out = []
    if isinstance(ups, nn.ModuleList) and len(ups) > 0:
        n = len(ups)
        out += [f"1/{2 ** (n - i)} and deeper" for i in range(n)]
    if _gdbs(model):
        out.append(GDB_CUT)
    return out


def _gdbs(model: nn.Module) -> list[nn.Module]:
    from .gyrodeblurnet import GyroDeblurringBlock

    blks = getattr(model, "gyro_deblurring_blks", None)
    return [b for b in blks if isinstance(b, GyroDeblurringBlock)] if blks is not None else []


@contextmanager
def cut(model: nn.Module, name: str) -> Iterator[None]:
    """Run ``model`` with the path ``name`` cut inside the with-block (``cuts(model)`` lists the names)."""
    available = cuts(model)
    if name not in available:
        raise ValueError(f"model {type(model).__name__} has no cut {name!r}; it has: {', '.join(available) or 'none'}")
    handles = []
    if name == GDB_CUT:
        for gdb in _gdbs(model):
            handles.append(gdb.register_forward_hook(lambda m, args, out: args[0]))
    else:
        up = model.ups[available.index(name)]
        handles.append(up.register_forward_pre_hook(lambda m, args: (torch.zeros_like(args[0]),)))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
