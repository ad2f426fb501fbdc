"""Results records (INTERFACES.md §8, ``format: "gyrobench-results/1"``): loading and validation.

The leaderboard reads only these JSON files (and the per-image CSV / crop PNGs they point to, by paths relative
to the record); it never imports a model. Schema (written by ``gyrobench eval``)::

    {format, model, label, options, checkpoint, checkpoint_sha256, dataset, dataset_manifest_sha256,
     recipe_sha256, protocol, protocol_options,
     metrics: {name: {mean, ci95: [lo, hi], n, lower_better, full_reference}},
     unavailable: {name: reason}, per_image_csv, crops: [{sample_id, blurred, restored, sharp}],
     command, versions, date, machine, git_commit, train: {...} (optional)}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GyrobenchError
from ..provenance import sha256_file

FORMAT = "gyrobench-results/1"
REQUIRED = ("format", "model", "metrics")


class RecordError(GyrobenchError):
    """A results record is missing, malformed or points to files that are not there."""


@dataclass(frozen=True)
class MetricValue:
    """One metric of one record: mean over images with its 95 % interval (``None`` where not given)."""

    mean: float
    lo: float | None
    hi: float | None
    n: int | None
    lower_better: bool
    full_reference: bool | None


@dataclass(frozen=True)
class Record:
    """A validated results record plus where it came from (``path``) and the sha256 of its bytes."""

    path: Path
    sha256: str
    data: dict = field(repr=False)
    metrics: dict[str, MetricValue] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(self.data.get("label") or self.data["model"])

    @property
    def model(self) -> str:
        return str(self.data["model"])

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Rows are ranked together only on the same dataset manifest, split, protocol and gyro field
        (``protocol_options.gyro_field``: clean or noisy motion fields at test time)."""
        po = self.data.get("protocol_options") or {}
        gyro_field = po.get("gyro_field") if isinstance(po, dict) else None
        return (
            str(self.data.get("dataset_manifest_sha256") or "unknown"),
            str(self.data.get("split") or ""),
            str(self.data.get("protocol") or "unknown"),
            str(gyro_field or ""),
        )

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def resolve(self, rel: str | None) -> Path | None:
        """A path stored in the record, resolved relative to the record's folder."""
        if not rel:
            return None
        p = Path(rel)
        return p if p.is_absolute() else (self.path.parent / p)


def _num(x, path: Path, where: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise RecordError(
            f"{path}: field '{where}' must be a number, got {x!r}; regenerate the record with "
            "`gyrobench eval`"
        ) from None
    if math.isnan(v):
        raise RecordError(
            f"{path}: field '{where}' is NaN; a metric that could not be computed belongs in "
            "'unavailable' with its reason"
        )
    return v


def load_record(path: str | Path) -> Record:
    """Read and validate one results record; :class:`RecordError` names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: results record not found; pass the JSON written by `gyrobench eval`")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(
            f"{path}: not valid JSON ({exc}); pass the JSON written by `gyrobench eval`"
        ) from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object, got {type(data).__name__}")
    for key in REQUIRED:
        if key not in data:
            raise RecordError(
                f"{path}: missing field '{key}'; this is not a gyrobench results record (format {FORMAT})"
            )
    if data["format"] != FORMAT:
        raise RecordError(
            f"{path}: field 'format' is {data['format']!r}, expected {FORMAT!r}; "
            "regenerate it with this gyrobench version's `gyrobench eval`"
        )
    if not isinstance(data["metrics"], dict):
        raise RecordError(f"{path}: field 'metrics' must be an object {{name: {{mean, ci95, n, ...}}}}")
    metrics: dict[str, MetricValue] = {}
    for name, m in data["metrics"].items():
        if not isinstance(m, dict) or "mean" not in m:
            raise RecordError(f"{path}: field 'metrics.{name}' needs at least 'mean'; got {m!r}")
        ci = m.get("ci95")
        lo = hi = None
        if ci is not None:
            if not (isinstance(ci, list | tuple) and len(ci) == 2):
                raise RecordError(f"{path}: field 'metrics.{name}.ci95' must be [lo, hi], got {ci!r}")
            lo, hi = (
                _num(ci[0], path, f"metrics.{name}.ci95[0]"),
                _num(ci[1], path, f"metrics.{name}.ci95[1]"),
            )
        n = m.get("n")
        metrics[str(name)] = MetricValue(
            mean=_num(m["mean"], path, f"metrics.{name}.mean"),
            lo=lo,
            hi=hi,
            n=None if n is None else int(n),
            lower_better=bool(m.get("lower_better", False)),
            full_reference=m.get("full_reference"),
        )
    crops = data.get("crops", []) or []
    if not isinstance(crops, list):
        raise RecordError(f"{path}: field 'crops' must be a list of {{sample_id, blurred, restored, sharp}}")
    return Record(path=path, sha256=sha256_file(path), data=data, metrics=metrics)


def find_records(inputs) -> list[Path]:
    """Expand files and folders (recursively, ``*.json`` whose ``format`` is a results record), sorted."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for q in sorted(p.rglob("*.json")):
                try:
                    d = json.loads(q.read_text())
                except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                    continue
                if isinstance(d, dict) and d.get("format") == FORMAT:
                    out.append(q)
        else:
            out.append(p)
    if not out:
        raise RecordError(
            f"no results records found in {', '.join(map(str, inputs))}; "
            "run `gyrobench eval` first or pass the record JSON files"
        )
    return out
