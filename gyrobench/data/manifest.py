"""The dataset manifest (docs/conventions.md §5): ``manifest.json`` beside the shards.

Layout::

    {"format": "gyrobench-dataset/1", "name": ..., "recipe": "<YAML text as written>", "recipe_sha256": ...,
     "seed": int, "versions": {...}, "limit": int | null,
     "splits": {"train": {"samples": 48, "shards": 3, "degradation": "on_the_fly", "preset": ...}, ...},
     "shards": [{"file": "shard-00000.h5", "sha256": ..., "bytes": int, "samples": 16, "split": "train",
                 "first_index": 0}, ...],
     "fingerprint": "<sha256>",
     "created": {"date": ..., "git_commit": ..., "machine": {...}, "command": ...}}

``shards`` holds only relative names, hashes and counts, never absolute paths or timestamps, so two runs of one
recipe (same seed, device type and library versions) give equal ``shards`` lists whatever the worker count.
Run-specific facts (date, machine) live apart in ``created``. The file is written atomically.

A dataset's identity is its content: :func:`content_fingerprint` hashes the recipe's sha256 and the per-shard
hashes, and nothing run-specific (not ``created``, not ``versions``), so the same recipe and seed synthesized on
another day, machine or commit has the same fingerprint whenever its shards are the same. Results records carry it
(``dataset_fingerprint``) and the leaderboard ranks rows by it; the sha256 of the manifest file itself stays in
records as provenance (``dataset_manifest_sha256``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ShardError
from ..io import atomic_open
from ..provenance import sha256_json

FORMAT = "gyrobench-dataset/1"
MANIFEST = "manifest.json"

__all__ = ["FORMAT", "MANIFEST", "write_json_atomic", "read_manifest", "manifest_path", "content_fingerprint"]


def write_json_atomic(path: str | Path, obj) -> None:
    """Write JSON to ``path`` via a temp file in the same folder and ``os.replace`` (never half-written)."""
    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=False)
        fh.write("\n")


def manifest_path(root: str | Path) -> Path:
    root = Path(root)
    return root if root.name == MANIFEST else root / MANIFEST


def read_manifest(root: str | Path) -> dict:
    """Read and structurally check ``root/manifest.json``; :class:`ShardError` names the file and the fix."""
    path = manifest_path(root)
    if not path.is_file():
        raise ShardError(f"{path}: no manifest; run 'gyrobench synth RECIPE --out {path.parent}' "
                         "(or import-gyroblur) to create the dataset, or finish an interrupted run by rerunning it")
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ShardError(f"{path}: manifest is not valid JSON ({exc}); regenerate the dataset") from exc
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        got = man.get("format") if isinstance(man, dict) else type(man).__name__
        raise ShardError(f"{path}: field 'format' is {got!r}, expected {FORMAT!r}; not a gyrobench dataset")
    shards = man.get("shards")
    if not isinstance(shards, list):
        raise ShardError(f"{path}: field 'shards' missing or not a list; regenerate the dataset")
    for i, entry in enumerate(shards):
        for key in ("file", "sha256", "samples", "split"):
            if key not in entry:
                raise ShardError(f"{path}: shards[{i}] lacks field '{key}'; regenerate the dataset")
        if Path(entry["file"]).is_absolute() or ".." in Path(entry["file"]).parts:
            raise ShardError(f"{path}: shards[{i}].file {entry['file']!r} must be a plain relative name")
    return man


SHARD_IDENTITY = ("file", "split", "samples", "sha256")


def content_fingerprint(manifest: dict) -> str:
    """The content identity of a dataset: sha256 of ``{"recipe_sha256", "shards": [{file, split, samples,
    sha256}, ...]}`` (canonical JSON), computed from the manifest's fields, so a manifest written before the
    ``fingerprint`` field existed gets the same value as a new one.

    >>> m = {"recipe_sha256": "r", "shards": [{"file": "shard-00000.h5", "split": "test", "samples": 2,
    ...      "sha256": "s", "bytes": 10, "first_index": 0}], "created": {"date": "2026-12-03"}}
    >>> content_fingerprint(m) == content_fingerprint({**m, "created": {"date": "2027-01-01"}})
    True
    """
    shards = [{k: e[k] for k in SHARD_IDENTITY} for e in manifest["shards"]]
    return sha256_json({"recipe_sha256": manifest.get("recipe_sha256"), "shards": shards})
