"""Results records (``format: "gyrobench-results/1"``; docs/metrics.md): the one typed record
:class:`ResultsRecord` that ``gyrobench eval`` writes and the leaderboard reads, summaries with 95 % intervals,
the per-image CSV and the atomic JSON write.

The schema is the dataclass :class:`ResultsRecord` (and :class:`MetricSummary` for each metric); paths inside a
record are relative to the record's folder. :meth:`ResultsRecord.from_json` validates a loaded JSON object
(unknown key, missing required key, wrong type or a NaN number -> one error naming the file and the key).

95 % intervals are over images (the spread of per-image scores, not the uncertainty of one image's score):

- ``"t"`` (default): Student-t interval ``mean ± t_{0.975, n-1} · s / sqrt(n)`` with the sample standard
  deviation ``s`` (ddof 1); ``null`` for ``n < 2``.
- ``"bootstrap"``: percentile bootstrap of the mean, 10 000 resamples, fixed seed (default 0), so records are
  reproducible.

Non-finite per-image values (PSNR of a pixel-identical image is ``+inf``) are excluded from the mean and
counted in ``n_nonfinite``; a metric with no finite value goes to ``unavailable`` (JSON has no ``Infinity``).

>>> m = MetricSummary(mean=30.0, ci95=(29.0, 31.0), n=4, lower_better=False, full_reference=True)
>>> (m.lo, m.hi)
(29.0, 31.0)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import from_dict, to_dict
from .errors import GyrobenchError, RecipeError
from .io import atomic_open, write_text_atomic

__all__ = ["FORMAT", "MetricSummary", "ResultsRecord", "RecordError", "mean_ci", "summarize_metric",
           "write_record", "write_per_image_csv", "read_record", "load_results"]

FORMAT = "gyrobench-results/1"
CI_METHODS = ("t", "bootstrap")


class RecordError(GyrobenchError):
    """A results record is missing, malformed or points to files that are not there."""


@dataclass(frozen=True, kw_only=True)
class MetricSummary:
    """``metrics.<name>`` of a record: the mean over images with its 95 % interval (``None`` for n < 2)."""

    mean: float
    ci95: tuple[float, float] | None
    n: int
    n_nonfinite: int = 0
    std: float | None = None
    lower_better: bool
    full_reference: bool
    ci_method: str = ""
    citation: str = ""

    @property
    def lo(self) -> float | None:
        return None if self.ci95 is None else self.ci95[0]

    @property
    def hi(self) -> float | None:
        return None if self.ci95 is None else self.ci95[1]


@dataclass(frozen=True, kw_only=True)
class ResultsRecord:
    """One evaluation: what was scored (model, checkpoint, dataset, split, protocol), the scores and the
    provenance. Field order is the order of the JSON file. ``dcn_backend`` and ``train`` are written only when
    known (a model with deformable convolutions; a checkpoint that carries its training information);
    ``deform_health`` for a model with deformable layers (docs/models.md, "Deformable-block health")."""

    format: str = FORMAT
    model: str
    label: str
    options: dict[str, Any]
    uses_gyro: bool
    model_source: str
    checkpoint: str | None
    checkpoint_sha256: str | None
    dataset: str
    dataset_manifest_sha256: str  # of the manifest file's bytes: provenance (it includes the run's date)
    dataset_fingerprint: str | None = None  # the dataset's content identity (gyrobench.data.manifest); ranks rows
    recipe_sha256: str | None
    split: str | None  # None: every sample ('--split all')
    protocol: str
    protocol_options: dict[str, Any]
    metrics: dict[str, MetricSummary]
    unavailable: dict[str, str]
    per_image_csv: str
    crops: list[dict[str, Any]]
    n_images: int
    blur_extent_px: dict[str, float]
    timing: dict[str, Any]
    command: str | list[str]
    versions: dict[str, Any]
    date: str
    machine: dict[str, Any]
    git_commit: str | None
    dcn_backend: str | None = None
    train: dict[str, Any] | None = field(default=None)
    #: per deformable layer, over the evaluated images: gyrobench.models.health.BlockHealth.to_dict()
    deform_health: list[dict[str, Any]] | None = None

    OPTIONAL = ("dataset_fingerprint", "dcn_backend", "train", "deform_health")  # omitted from the JSON when None (older records)

    @classmethod
    def from_json(cls, data: Any, source: str = "<record>") -> ResultsRecord:
        """Validate a loaded JSON object; :class:`RecordError` names ``source`` and the key."""
        if not isinstance(data, dict):
            raise RecordError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise RecordError(f"{source}: field 'format' is {data.get('format')!r}, expected {FORMAT!r}; "
                              "regenerate it with this gyrobench version's `gyrobench eval`")
        try:
            rec = from_dict(cls, data, source=source)
        except RecipeError as exc:
            raise RecordError(f"{exc}; regenerate the record with `gyrobench eval`") from None
        for name, m in rec.metrics.items():
            for key, v in (("mean", m.mean), ("ci95[0]", m.lo), ("ci95[1]", m.hi)):
                if v is not None and math.isnan(v):
                    raise RecordError(f"{source}: field 'metrics.{name}.{key}' is NaN; a metric that could not be "
                                      "computed belongs in 'unavailable' with its reason")
                if v is not None and not math.isfinite(v):
                    raise RecordError(f"{source}: field 'metrics.{name}.{key}' is {v}; a mean over images and its "
                                      "interval are finite numbers (infinite per-image values are left out of "
                                      "them): regenerate the record with `gyrobench eval`")
            if m.ci95 is not None:
                if len(m.ci95) != 2:
                    raise RecordError(f"{source}: field 'metrics.{name}.ci95' must be [low, high], got "
                                      f"{list(m.ci95)}; regenerate the record with `gyrobench eval`")
                tol = 1e-9 * max(1.0, abs(m.mean))
                if not m.lo - tol <= m.mean <= m.hi + tol:
                    raise RecordError(f"{source}: field 'metrics.{name}.ci95' is [{m.lo}, {m.hi}], which does not "
                                      f"contain the mean {m.mean} (an inverted or shifted interval); regenerate "
                                      "the record with `gyrobench eval`")
            if m.n is not None and m.n < 0:
                raise RecordError(f"{source}: field 'metrics.{name}.n' is {m.n}; a count of images is >= 0")
        return rec

    def to_json(self) -> dict:
        """The JSON object (plain dicts and lists, field order), without the optional fields that are None."""
        out = to_dict(self)
        return {k: v for k, v in out.items() if not (k in self.OPTIONAL and v is None)}


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
        from scipy.stats import t as student_t  # heavy: only when an interval is computed

        half = float(student_t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
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


def write_record(path: str | Path, record: ResultsRecord | dict) -> Path:
    """Write ``record`` as strict JSON, atomically (temporary file + rename). A dict is validated as a
    :class:`ResultsRecord` first (``format`` added), so no record that the leaderboard would refuse is written."""
    if isinstance(record, dict):
        record = ResultsRecord.from_json(_json_safe({"format": FORMAT, **record}), source=str(path))
    text = json.dumps(_json_safe(record.to_json()), indent=1, sort_keys=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def load_results(path: str | Path) -> ResultsRecord:
    """Read and validate one record file; :class:`RecordError` names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: results record not found; pass the JSON written by `gyrobench eval`")
    from .textfiles import read_text

    try:
        data = json.loads(read_text(path, "results record (JSON)", RecordError))
    except ValueError as exc:  # json.JSONDecodeError; an integer literal too long to convert
        raise RecordError(f"{path}: not valid JSON ({str(exc)[:120]}); pass the JSON written by `gyrobench eval`") \
            from None
    return ResultsRecord.from_json(data, source=str(path))


def read_record(path: str | Path) -> dict:
    """The JSON object of a record file, validated by :meth:`ResultsRecord.from_json` (see :func:`load_results`)."""
    return load_results(path).to_json()


def write_per_image_csv(rows: list[dict], path: str | Path, metric_names: list[str]) -> Path:
    """Per-image CSV (pandas): columns ``sample_id, <metric names...>, blur_extent_px`` (+ extra keys after)."""
    import pandas as pd  # heavy: not needed by readers of records

    path = Path(path)
    df = pd.DataFrame(rows)
    first = ["sample_id", *metric_names, "blur_extent_px"]
    cols = [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]
    with atomic_open(path, "w") as fh:  # never a truncated CSV under the final name
        df[cols].to_csv(fh, index=False)  # full float precision: the record means are recomputable
    return path
