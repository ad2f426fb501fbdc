"""Budget rules: how many optimizer steps each run of a study gets (see :class:`gyrobench.study.suite.Budget`).

- ``steps``: ``steps_i = N``.
- ``gmacs``: ``steps_i = floor(G / (g_i * b_i))`` with ``g_i`` the forward GMACs of one training crop of run
  ``i`` (``crop x crop`` px, :func:`gyrobench.models.complexity.model_complexity`) and ``b_i`` its batch size;
  ``G = gmac_steps``, or ``G = g_ref * b_ref * N`` for ``reference: LABEL`` (the reference run gets ``N``).
  Backward passes cost a model-independent multiple of the forward MACs to first order, so forward GMACs are
  the unit.
- ``time``: ``steps_i = max(1, floor(S / t_i))`` with ``t_i`` seconds per step measured by
  :func:`calibrate_seconds_per_step`; the run also stops at ``S`` seconds (``schedule.max_seconds``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from ..config import from_dict
from ..errors import RecipeError
from ..log import get_logger
from ..models.complexity import model_complexity
from ..train.config import TrainConfig
from ..train.trainer import Trainer
from .suite import Suite, train_mapping

__all__ = ["crop_gmacs", "plan_budget", "calibrate_seconds_per_step"]

log = get_logger("study")


def crop_gmacs(model: dict, crop: int) -> float:
    """Forward GMACs of ``model`` (``{name, options}``) on one ``crop x crop`` image (batch 1)."""

    c = model_complexity(model["name"], dict(model.get("options") or {}), size=(int(crop), int(crop)))
    if c.gmacs is None:
        raise RecipeError(f"budget rule 'gmacs': model '{model['name']}' has no MAC count ({c.note}); use rule "
                          "'steps' or 'time'")
    return float(c.gmacs)


def _train_cfg(suite: Suite, i: int, steps: int = 1):

    return from_dict(TrainConfig, train_mapping(suite, i, seed=suite.seeds[0], steps=steps, data_root="."),
                     source=f"{suite.source}: runs[{i}]")


def plan_budget(suite: Suite, *, gmacs_fn: Callable[[dict, int], float] = crop_gmacs,
                seconds_per_step: Callable[[int], float] | None = None) -> list[dict]:
    """Per run (suite order): ``{"rule", "steps", ...}`` plus the figures the rule used.

    ``gmacs_fn(model_section, crop)`` and ``seconds_per_step(run_index)`` are injectable (tests, cached
    calibrations)."""
    b = suite.budget
    plans: list[dict] = []
    if b.rule == "steps":
        return [{"rule": "steps", "steps": int(b.steps)} for _ in suite.runs]
    if b.rule == "gmacs":
        per = []
        for i, run in enumerate(suite.runs):
            cfg = _train_cfg(suite, i)
            if cfg.data.crop is None:
                raise RecipeError(f"{suite.source}: runs[{i}] ({run.label}): rule 'gmacs' needs data.crop (the "
                                  "training crop the GMACs are counted on)")
            g = gmacs_fn({"name": cfg.model.name, "options": cfg.model.options}, cfg.data.crop)
            per.append((g, cfg.schedule.batch_size, cfg.data.crop))
        if b.reference is not None:
            ref = [r.label for r in suite.runs].index(b.reference)
            total = per[ref][0] * per[ref][1] * int(b.steps)
        else:
            total = float(b.gmac_steps)
        for run, (g, batch, crop) in zip(suite.runs, per):
            steps = int(math.floor(total / (g * batch) + 1e-9))
            if steps < 1:
                raise RecipeError(f"{suite.source}: budget: {total:.4g} GMAC is less than one step of run "
                                  f"'{run.label}' ({g * batch:.4g} GMAC); raise the budget")
            plans.append({"rule": "gmacs", "steps": steps, "gmac_budget": total, "gmacs_per_crop": g,
                          "crop": crop, "batch_size": batch, "gmac_steps": g * batch * steps})
        return plans
    if seconds_per_step is None:
        raise RecipeError("budget rule 'time' needs a calibration (seconds_per_step)")
    for i in range(len(suite.runs)):
        t = float(seconds_per_step(i))
        steps = max(1, int(math.floor(b.seconds / t)))
        plans.append({"rule": "time", "steps": steps, "seconds": float(b.seconds), "seconds_per_step": t})
    return plans


def calibrate_seconds_per_step(suite: Suite, i: int, data_root: str | Path, work_dir: str | Path) -> float:
    """Median wall-clock seconds of one optimizer step of run ``i`` (data loading and degradation included),
    over ``budget.calibration_steps`` steps after one warm-up step. Writes nothing but ``work_dir``."""

    n = suite.budget.calibration_steps
    cfg = from_dict(TrainConfig, train_mapping(suite, i, seed=suite.seeds[0], steps=n + 1, data_root=data_root),
                    source=f"{suite.source}: runs[{i}]")
    trainer = Trainer(cfg, work_dir, show_progress=False)
    times: list[float] = []
    t0 = time.perf_counter()
    epoch = 0
    while len(times) < n + 1:
        for batch in trainer._loader(epoch, 0):
            trainer.train_step(batch)
            trainer.step += 1
            t1 = time.perf_counter()
            times.append(t1 - t0)
            t0 = t1
            if len(times) >= n + 1:
                break
        epoch += 1
    s = statistics.median(times[1:])
    log.info("study: calibrated %s: %.3f s/step (median of %d steps)", suite.runs[i].label, s, n)
    return s
