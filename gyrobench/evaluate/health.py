"""Deformable-block health of a trained model on a dataset (``gyrobench health``; docs/models.md).

Runs the model over a split exactly as :func:`gyrobench.evaluate.evaluate` does (same protocol, same fields, batch 1,
full resolution) inside :func:`gyrobench.models.health.probe`, and returns one
:class:`~gyrobench.models.health.BlockHealth` per deformable layer. Nothing is written.
"""

from __future__ import annotations

import torch

from ..data.dataset import collate
from ..errors import GyrobenchError
from ..log import progress
from ..models.health import BlockHealth, deform_layers, probe
from .config import EvalConfig
from .run import gyro_input, prepare, restore

__all__ = ["model_health", "NoDeformableLayer"]


class NoDeformableLayer(GyrobenchError):
    """The model has no deformable layer to report."""


def model_health(cfg: EvalConfig) -> tuple[str, list[BlockHealth]]:
    """``(row label, health per deformable layer)`` of ``cfg``'s model on ``cfg``'s data and split.

    Raises :class:`~gyrobench.errors.GyrobenchError` when the model has no deformable layer."""
    run = prepare(cfg)
    if not isinstance(run.net, torch.nn.Module) or not deform_layers(run.net):
        raise NoDeformableLayer(f"{cfg.checkpoint or cfg.model}: model '{run.name}' has no deformable layer; health "
                             "reports GyroDeblurNet's gyro-deblurring blocks and EggNet's DCNs")
    with probe(run.net) as p:
        for idx in progress(range(run.n), desc=f"health {run.label}"):
            batch = gyro_input(run, collate([run.dataset[idx]]), idx)
            restore(run, {k: v.to(run.device) if torch.is_tensor(v) else v for k, v in batch.items()})
    return run.label, p.report()
