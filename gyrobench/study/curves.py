"""Learning curves: validation PSNR against training time, one line per model.

Training time of a step comes from the trainer's ``metrics.jsonl`` (``train_s``: seconds since that ``fit``
call began, checkpoint writes excluded). A resumed run appends a new segment whose clock restarts at 0; its
offset is the time recorded at the step it resumed from (the last checkpoint), and lines of the killed segment
past that step are dropped. Validation runs after training on the kept step checkpoints, so it never counts as
training time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import GyrobenchError

__all__ = ["train_times", "curve_points", "plot_curves"]


def train_times(metrics_path: str | Path, checkpoint_every: int) -> dict[int, float]:
    """``{step: cumulative training seconds}`` from a run's ``metrics.jsonl`` (see the module docstring)."""
    path = Path(metrics_path)
    times: dict[int, float] = {}
    prev_step, prev_raw, offset = 0, 0.0, 0.0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            step, raw = int(rec["step"]), float(rec["train_s"])
        except (ValueError, KeyError, TypeError) as exc:
            raise GyrobenchError(f"{path}: line {n} has no step/train_s ({exc}); the run was made by an older "
                                 "gyrobench: rerun it with --fresh") from exc
        if step <= prev_step or raw < prev_raw:  # a resumed fit(): its clock restarts
            resumed_from = ((step - 1) // checkpoint_every) * checkpoint_every
            offset = times.get(resumed_from, 0.0)
            times = {k: v for k, v in times.items() if k <= resumed_from}
        times[step] = offset + raw
        prev_step, prev_raw = step, raw
    return times


def curve_points(val: list[tuple[int, float]], times: dict[int, float]) -> list[dict]:
    """Join ``[(step, val_psnr)]`` with training times: ``[{step, train_s, psnr}]`` sorted by step."""
    out = []
    for step, psnr in sorted(val):
        if step not in times:
            raise GyrobenchError(f"step {step}: no training time in metrics.jsonl (log_every must divide the "
                                 "validation interval)")
        out.append({"step": int(step), "train_s": float(times[step]), "psnr": float(psnr)})
    return out


def _mean_curve(per_seed: list[list[dict]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps present in every seed -> (steps, mean train_s, mean psnr)."""
    common = sorted(set.intersection(*(set(p["step"] for p in c) for c in per_seed))) if per_seed else []
    t = [np.mean([next(p["train_s"] for p in c if p["step"] == s) for c in per_seed]) for s in common]
    y = [np.mean([next(p["psnr"] for p in c if p["step"] == s) for c in per_seed]) for s in common]
    return np.array(common), np.array(t), np.array(y)


def plot_curves(curves: dict[str, list[list[dict]]], path: str | Path, *, reference: float | None = None,
                title: str = "") -> Path:
    """Two panels, validation PSNR against training time (s) and against optimizer steps; one line per run
    (mean over seeds, thin lines per seed when there are several); ``reference``: the blurred input's PSNR on
    the validation split (dashed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    ax_t, ax_s = fig.subplots(1, 2)
    for k, (label, per_seed) in enumerate(curves.items()):
        colour = f"C{k % 10}"
        per_seed = [c for c in per_seed if c]
        if not per_seed:
            continue
        if len(per_seed) > 1:
            for c in per_seed:
                ax_t.plot([p["train_s"] for p in c], [p["psnr"] for p in c], color=colour, alpha=0.3, lw=0.8)
                ax_s.plot([p["step"] for p in c], [p["psnr"] for p in c], color=colour, alpha=0.3, lw=0.8)
        steps, t, y = _mean_curve(per_seed)
        name = label + (f" (mean of {len(per_seed)} seeds)" if len(per_seed) > 1 else "")
        ax_t.plot(t, y, "o-", color=colour, ms=3, label=name)
        ax_s.plot(steps, y, "o-", color=colour, ms=3, label=name)
    for ax, xl in ((ax_t, "training time (s; validation and checkpoint writes excluded)"),
                   (ax_s, "optimizer steps")):
        if reference is not None:
            ax.axhline(reference, color="k", ls="--", lw=1, label="blurred input")
        ax.set_xlabel(xl)
        ax.set_ylabel("validation PSNR (dB)")
        ax.grid(alpha=0.3)
    ax_t.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    return path
