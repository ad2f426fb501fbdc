"""Loading results records for the leaderboard.

The schema is :class:`gyrobench.results.ResultsRecord`, the one typed record that ``gyrobench eval`` writes;
:func:`load_record` validates a file with :meth:`ResultsRecord.from_json` and wraps it with its path and the
sha256 of its bytes. The leaderboard reads only these JSON files (and the per-image CSV / crop PNGs they point
to, by paths relative to the record); it never imports a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..provenance import sha256_file
from ..results import FORMAT, MetricSummary, RecordError, ResultsRecord, load_results

__all__ = ["FORMAT", "Record", "RecordError", "MetricSummary", "load_record", "find_records"]


@dataclass(frozen=True)
class Record:
    """A validated results record plus where it came from (``path``) and the sha256 of its bytes."""

    path: Path
    sha256: str
    record: ResultsRecord

    @property
    def label(self) -> str:
        return self.record.label or self.record.model

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def metrics(self) -> dict[str, MetricSummary]:
        return self.record.metrics

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Rows are ranked together only on the same dataset content (``dataset_fingerprint``; records written
        before it existed: the manifest file's sha256), split, protocol and gyro field
        (``protocol_options.gyro_field``: clean or noisy motion fields at test time)."""
        rec = self.record
        return (rec.dataset_fingerprint or rec.dataset_manifest_sha256, rec.split or "", rec.protocol,
                str(rec.protocol_options.get("gyro_field") or ""))

    def get(self, key: str, default=None):
        """Field ``key`` of the record (a :class:`ResultsRecord` field name), ``default`` when None."""
        if key not in ResultsRecord.__dataclass_fields__:
            raise KeyError(f"ResultsRecord has no field {key!r}")
        value = getattr(self.record, key)
        return default if value is None else value

    def resolve(self, rel: str | None) -> Path | None:
        """A path stored in the record, resolved relative to the record's folder."""
        if not rel:
            return None
        p = Path(rel)
        return p if p.is_absolute() else (self.path.parent / p)


def load_record(path: str | Path) -> Record:
    """Read and validate one results record; :class:`RecordError` names the file and the field."""
    path = Path(path)
    record = load_results(path)
    return Record(path=path, sha256=sha256_file(path), record=record)


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
