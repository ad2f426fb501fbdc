"""Path knock-outs of a trained model on a dataset (``gyrobench health --paths``; docs/gyro-path.md).

Scores the split as :func:`gyrobench.evaluate.evaluate` does (same protocol, fields, batch 1, full resolution), once
intact and once with each cut of :func:`gyrobench.models.knockout.cuts`, and reports what each cut costs: the mean
paired PSNR difference over images (cut − intact, dB) with its 95 % t-interval. A gyro model also gets the row
``SHUFFLED`` (the information of the field cut: each image gets the field of sample (i + 1) mod n, as
``gyro_field: shuffled`` in eval). Nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..data.dataset import collate
from ..errors import GyrobenchError
from ..log import progress
from ..metrics.metric_set import MetricSet
from ..models.knockout import cut, cuts
from ..results import mean_ci
from .config import EvalConfig
from .run import gyro_input, prepare, restore, shuffled_field

__all__ = ["PathCut", "path_knockouts", "SHUFFLED"]

SHUFFLED = "the field (another sample's)"


@dataclass(frozen=True)
class PathCut:
    """What cutting one path costs: PSNR with the cut (dB, mean over images), the paired difference to the intact
    model (dB; negative = the path carried that much) and its 95 % t-interval over the images."""

    cut: str
    psnr: float
    delta_db: float
    lo: float | None
    hi: float | None
    images: int

    def to_dict(self) -> dict:
        return asdict(self)


def path_knockouts(cfg: EvalConfig) -> tuple[str, float, list[PathCut]]:
    """``(row label, intact PSNR, one PathCut per cut)`` of ``cfg``'s model on ``cfg``'s data and split.

    Raises :class:`~gyrobench.errors.GyrobenchError` when the model has no cut or the split has no ground truth."""
    run = prepare(cfg)
    names = cuts(run.net) if isinstance(run.net, torch.nn.Module) else []
    if not names:
        raise GyrobenchError(f"{cfg.checkpoint or cfg.model}: model '{run.name}' has no path to cut; knock-outs "
                             "cover U-Nets with decoder 'ups' (GyroDeblurNet, NAFNet) and GyroDeblurNet's GDBs")
    batches = [gyro_input(run, collate([run.dataset[i]]), i) for i in range(run.n)]
    if any(b.get("sharp") is None for b in batches):
        raise GyrobenchError(f"{cfg.data}: split {cfg.split!r} has no ground truth ('sharp'); knock-outs need PSNR")

    def score(tag: str, field=None) -> list[float]:
        metrics = MetricSet(["psnr"], protocol=run.protocol, device=run.device)
        for i in progress(range(run.n), desc=f"paths {run.label}: {tag}"):
            batch = dict(batches[i])
            if field is not None:
                batch["cmf_noisy"] = batch["cmf_clean"] = field(i, batch["cmf_noisy"])
            batch = {k: v.to(run.device) if torch.is_tensor(v) else v for k, v in batch.items()}
            metrics.score(str(i), restore(run, batch)[0], batch["sharp"])
        return metrics.values("psnr")

    def row(name: str, vals: list[float]) -> PathCut:
        mean, lo, hi = mean_ci([v - u for v, u in zip(vals, intact)])
        return PathCut(name, sum(vals) / len(vals), mean, lo, hi, len(vals))

    intact = score("intact")
    rows = []
    for name in names:
        with cut(run.net, name):
            rows.append(row(name, score(name)))
    if getattr(run.net, "uses_gyro", False) and "cmf_noisy" in batches[0] and run.n >= 2:
        rows.append(row(SHUFFLED, score("shuffled", lambda i, own: shuffled_field(run.dataset, i, run.n, own))))
    return run.label, sum(intact) / len(intact), rows
