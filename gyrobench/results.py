"""Results records (INTERFACES.md §8, ``format: "gyrobench-results/1"``): summaries with 95 % intervals, the
per-image CSV and the atomic JSON write. The leaderboard (``gyrobench.leaderboard.records``) reads these files.

Record schema (one JSON per evaluation; paths inside are relative to the record's folder)::

    {format, model, label, options, checkpoint, checkpoint_sha256, dataset, dataset_manifest_sha256,
     recipe_sha256, split, protocol, protocol_options,
     metrics: {name: {mean, ci95: [lo, hi] | null, n, n_nonfinite, std, lower_better, full_reference,
                      ci_method, citation}},
     unavailable: {name: reason}, per_image_csv, crops: [{sample_id, blurred, restored, sharp}],
     blur_extent_px: {mean, median, max}, timing: {...}, command, versions, date, machine, git_commit,
     train: {...} (when the checkpoint carries training information)}

95 % intervals are over images (the spread of per-image scores, not the uncertainty of one image's score):

- ``"t"`` (default): Student-t interval ``mean ± t_{0.975, n-1} · s / sqrt(n)`` with the sample standard
  deviation ``s`` (ddof 1); ``null`` for ``n < 2``.
- ``"bootstrap"``: percentile bootstrap of the mean, 10 000 resamples, fixed seed (default 0), so records are
  reproducible.

Non-finite per-image values (PSNR of a pixel-identical image is ``+inf``) are excluded from the mean and
counted in ``n_nonfinite``; a metric with no finite value goes to ``unavailable`` (JSON has no ``Infinity``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .errors import GyrobenchError
from .io import atomic_open, write_text_atomic

__all__ = ["FORMAT", "mean_ci", "summarize_metric", "write_record", "write_per_image_csv", "read_record"]

FORMAT = "gyrobench-results/1"
CI_METHODS = ("t", "bootstrap")


def mean_ci(values, method: str = "t", *, seed: int = 0, n_boot: int = 10_000, level: float = 0.95
            ) -> tuple[float, float | None, float | None]:
    """``(mean, lo, hi)`` of the finite ``values`` with a ``level`` interval (see the module docstring)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise GyrobenchError("mean_ci: no finite values to summarise")
    mean = float(v.mean())
    if v.size < 2:
        return mean, None, None
    if method == "t":
        from scipy.stats import t

        half = float(t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
        return mean, mean - half, mean + half
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, v.size, size=(n_boot, v.size))
        means = v[idx].mean(axis=1)
        lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
        return mean, float(lo), float(hi)
    raise GyrobenchError(f"unknown interval method '{method}'; use one of {', '.join(CI_METHODS)}")


def summarize_metric(values, *, lower_better: bool, full_reference: bool, method: str = "t", seed: int = 0,
                     citation: str = "") -> dict:
    """The ``metrics.<name>`` entry of a record from per-image values."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    mean, lo, hi = mean_ci(finite, method, seed=seed)
    return {
        "mean": mean,
        "ci95": None if lo is None else [lo, hi],
        "n": int(finite.size),
        "n_nonfinite": int(v.size - finite.size),
        "std": float(finite.std(ddof=1)) if finite.size > 1 else None,
        "lower_better": bool(lower_better),
        "full_reference": bool(full_reference),
        "ci_method": "t-interval" if method == "t" else f"percentile bootstrap (10000, seed {seed})",
        "citation": citation,
    }


def _json_safe(obj):
    """Replace non-finite floats by ``None`` (strict JSON) and numpy scalars by Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_record(path: str | Path, record: dict) -> Path:
    """Write ``record`` (``format`` added) as strict JSON, atomically (temporary file + rename)."""
    payload = _json_safe({"format": FORMAT, **record})
    text = json.dumps(payload, indent=1, sort_keys=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def read_record(path: str | Path) -> dict:
    """Load a record written by :func:`write_record` (validation lives in ``gyrobench.leaderboard.records``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GyrobenchError(f"{path}: results record not found; run 'gyrobench eval' first") from exc
    except json.JSONDecodeError as exc:
        raise GyrobenchError(f"{path}: not valid JSON ({exc}); rerun 'gyrobench eval'") from exc
    if data.get("format") != FORMAT:
        raise GyrobenchError(f"{path}: field 'format' is {data.get('format')!r}, expected {FORMAT!r}")
    return data


def write_per_image_csv(rows: list[dict], path: str | Path, metric_names: list[str]) -> Path:
    """Per-image CSV (pandas): columns ``sample_id, <metric names...>, blur_extent_px`` (+ extra keys after)."""
    import pandas as pd

    path = Path(path)
    df = pd.DataFrame(rows)
    first = ["sample_id", *metric_names, "blur_extent_px"]
    cols = [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]
    with atomic_open(path, "w") as fh:  # never a truncated CSV under the final name
        df[cols].to_csv(fh, index=False)  # full float precision: the record means are recomputable
    return path
