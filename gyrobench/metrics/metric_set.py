"""The metrics of one evaluation run, and the rule that keeps a run's numbers comparable.

A :class:`MetricSet` scores every image with every metric it holds. A metric that cannot score one image
(:class:`~gyrobench.metrics.registry.MetricUnavailable` or :class:`~gyrobench.errors.ShapeError`, e.g. NIQE on an
image smaller than two 96-px blocks) is **dropped for the whole run**: its values for the images already scored
are discarded and the reason (with the sample id) is recorded under ``unavailable``, because a mean over a subset
of the images would not be comparable with other rows of a table. Metrics unavailable from the start (TOPIQ
without its weights), full-reference metrics on a split without ground truth, and metrics with no finite value
(PSNR of pixel-identical images is +inf) are recorded under ``unavailable`` likewise: never as numbers.

>>> import torch
>>> ms = MetricSet(["psnr"], protocol="gyrodeblurnet_official")
>>> x = torch.full((1, 3, 8, 8), 0.5)
>>> row = ms.score("s0", x, x.clamp(max=0.49))
>>> round(row["psnr"], 2), ms.reported
(38.59, ['psnr'])
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..log import get_logger
from ..results import summarize_metric
from .protocols import Protocol
from .registry import Metric, MetricUnavailable, create_metric

__all__ = ["MetricSet"]

log = get_logger("metrics")


class MetricSet:
    """Metrics ``names`` under ``protocol`` (``options``: per-metric keyword arguments, e.g.
    ``{"topiq_nr": {"weights": path}}``). Images are (1, 3, H, W) linear [0, 1] tensors."""

    def __init__(self, names, *, protocol: str | Protocol, device=None, options: dict | None = None):
        options = dict(options or {})
        self.active: dict[str, Metric] = {}
        self.unavailable: dict[str, str] = {}
        self.rows: list[dict[str, float]] = []  # per scored image: {metric: value}
        self._missing_reference = False
        for name in names:
            m = create_metric(name, protocol=protocol, device=device, **options.get(name, {}))
            if m.available:
                self.active[name] = m
            else:
                self.unavailable[name] = m.unavailable_reason
                log.info("metric %s unavailable: %s", name, m.unavailable_reason)

    def score(self, sample_id: str, restored, sharp=None) -> dict[str, float]:
        """Score one image with every active metric; the returned row is also kept in :attr:`rows`."""
        row: dict[str, float] = {}
        self.rows.append(row)
        for name, m in list(self.active.items()):
            if m.full_reference and sharp is None:
                self._missing_reference = True
                continue
            try:
                row[name] = float(m(restored, sharp)[0] if m.full_reference else m(restored)[0])
            except (MetricUnavailable, ShapeError) as exc:
                self.drop(name, f"{exc} (sample {sample_id})")
        return row

    def drop(self, name: str, reason: str) -> None:
        """Drop metric ``name`` for the whole run: forget its values, record ``reason``."""
        self.unavailable[name] = reason
        log.warning("metric %s dropped: %s", name, reason)
        del self.active[name]
        for row in self.rows:
            row.pop(name, None)

    def values(self, name: str) -> list[float]:
        return [row[name] for row in self.rows if name in row]

    def summaries(self, method: str = "t", seed: int = 0) -> dict[str, dict]:
        """``metrics`` of the results record (:func:`gyrobench.results.summarize_metric` per reported metric);
        records the end-of-run reasons (no ground truth, no finite value) under :attr:`unavailable`."""
        if self._missing_reference:
            for name, m in self.active.items():
                if m.full_reference:
                    self.unavailable[name] = "the dataset has no ground truth ('sharp') for this split"
        out = {}
        for name, m in self.active.items():
            if name in self.unavailable:
                continue
            vals = self.values(name)
            if not any(np.isfinite(vals)):
                self.unavailable[name] = "no finite per-image value (e.g. PSNR of pixel-identical images is +inf)"
                continue
            out[name] = summarize_metric(vals, lower_better=m.lower_better, full_reference=m.full_reference,
                                         method=method, seed=seed, citation=m.citation)
        return out

    @property
    def reported(self) -> list[str]:
        """Metrics with a number in the record (active and not unavailable), in the order asked for."""
        return [name for name in self.active if name not in self.unavailable]
