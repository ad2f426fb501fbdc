"""Who owns an output folder: the ownership marker and the per-folder lock, for every command that writes one.

The rule (docs/conventions.md §10, "Nothing is lost"):

- A folder a command made carries a marker file, :data:`MARKER` (``.gyrobench-folder.json``), naming the *kind*
  of folder and the command that made it, e.g. ``{"format": "gyrobench-folder/1", "kind": "dataset",
  "made_by": "gyrobench synth"}`` (no date, no path: a published folder stays byte-identical when rebuilt).
- A command writes only into a folder that does not exist, an empty one, or one of its own kind: one whose marker
  names that kind, or (folders written before markers existed) one whose entries are all files that kind writes
  and that holds at least one of its signature files (:data:`KINDS`: ``manifest.json`` for a dataset,
  ``checkpoints/`` or ``metrics.jsonl`` for a training run, ``leaderboard.json`` for a board, ...).
- ``--overwrite`` removes only what that kind of command made (:func:`remove_owned`); a command that replaces
  its folder whole (a board, a dataset of another recipe, an evaluation) refuses a folder that also holds
  anything else, so nothing it did not make is ever deleted.
- Anything else is refused with one line naming the folder and the fix (:class:`FolderError`).

Locks: :class:`Lock` is an exclusive lock file holding the owner's pid (``O_CREAT | O_EXCL``); a lock whose
process is gone is stale and taken over. :func:`claim` holds the lock of a folder, ``.gyrobench-lock-<name>``
beside it (beside, not inside: a folder replaced by a swap keeps its lock), while a command writes it, so a
second process on the same folder is refused at once instead of mixing its files in.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import GyrobenchError
from .log import get_logger

__all__ = ["MARKER", "KINDS", "Kind", "FolderError", "Lock", "folder_kind", "check_folder", "claim",
           "write_marker", "remove_owned", "foreign_entries", "lock_path"]

log = get_logger("folders")

#: the marker file of a folder a gyrobench command made
MARKER = ".gyrobench-folder.json"
_FORMAT = "gyrobench-folder/1"
#: entries every kind may hold: the marker, temporary folders of gyrobench.io, locks of sub-folders
_ALWAYS = (".gyrobench*",)


class FolderError(GyrobenchError):
    """An output folder is not the command's to write (it holds something else, or another process writes it)."""


@dataclass(frozen=True)
class Kind:
    """A kind of output folder.

    Attributes:
        name: the kind recorded in the marker (``dataset``, ``run``, ...).
        command: the command that makes it, for messages (``gyrobench synth``).
        what: what such a folder holds, for messages (``a dataset``).
        signature: top-level names (glob patterns) that identify an unmarked folder of this kind.
        owns: top-level names (glob patterns) this kind writes; anything else in the folder is not its own.
        records: sub-folders holding a ``results.json`` count as its own (a board carries its records over).
    """

    name: str
    command: str
    what: str
    signature: tuple[str, ...]
    owns: tuple[str, ...]
    records: bool = False


_BOARD_FILES = ("leaderboard.json", "table.md", "table.csv", "table.tex", "index.html", "reference.md",
                "bars-*.png", "scatter-*.png", "crops-*.png", "crops", "records")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("dataset", "gyrobench synth", "a dataset", ("manifest.json", "shard-*.h5"),
         ("manifest.json", "shard-*.h5", ".shard-*", "README.md")),  # README.md: the dataset card synth writes
    Kind("run", "gyrobench train", "a training run", ("checkpoints", "metrics.jsonl", "run.json"),
         ("checkpoints", "metrics.jsonl", "config.yaml", "config.resume.yaml", "config.resolved.json", "run.json",
          "run.resume-*.json", "tb",
          # a run inside a study also holds the study's unit files
          "unit.json", "curve.json", "final.pt", "val", "eval")),
    Kind("eval", "gyrobench eval", "an evaluation record", ("results.json",),
         ("results.json", "per_image.csv", "crops", "restored", "images")),
    Kind("board", "gyrobench leaderboard", "a leaderboard", ("leaderboard.json",), _BOARD_FILES, records=True),
    Kind("study", "gyrobench study", "a study work folder", ("plan.json", "runs", "references"),
         ("data", "runs", "references", "calibration", "plan.json", "locks", "board")),
    Kind("study-board", "gyrobench study --publish", "a study board", ("study.json",),
         ("table.md", "table.csv", "curves.png", "curves.csv", "timing.md", "study.json", "suite.yaml",
          "recipe.yaml", "checkpoints", "records", "leaderboard")),
    Kind("demo", "gyrobench demo", "a demo work folder", ("demo.json",),
         ("data", "runs", "results", "leaderboard", "demo.json")),
    Kind("captures", "gyrobench capture import", "imported captures", (), ()),
    Kind("capture", "gyrobench capture synth", "a capture", ("capture.json",),
         ("capture.json", "image.*", "gyro.txt", ".image.*")),
    Kind("infer", "gyrobench infer", "a restored capture", ("infer.json",),
         ("infer.json", "restored_srgb.png", "restored_linear16.png", "input_srgb.png", "field.png")),
)}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"unknown folder kind {name!r}; one of {', '.join(KINDS)}")
    return KINDS[name]


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def read_marker(folder: Path) -> dict | None:
    """The marker of ``folder`` as a dict, or None (no marker, or an unreadable one)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


def write_marker(folder: str | Path, kind: str, made_by: str | None = None) -> Path:
    """Write the marker of ``kind`` into ``folder`` (created); deterministic bytes."""
    from .io import write_text_atomic

    k = _kind(kind)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": _FORMAT, "kind": k.name, "made_by": made_by or k.command}, sort_keys=True) + "\n"
    return write_text_atomic(folder / MARKER, text, unless_same=True)


def _is_capture(p: Path) -> bool:
    return p.is_dir() and (p / "capture.json").is_file()


def _owned(folder: Path, entry: Path, k: Kind) -> bool:
    if _matches(entry.name, _ALWAYS) or _matches(entry.name, k.owns):
        return True
    if k.name == "captures":
        return _is_capture(entry)
    if k.records and entry.is_dir():
        return any(entry.rglob("results.json"))
    return False


def foreign_entries(folder: str | Path, kind: str) -> list[str]:
    """Top-level names in ``folder`` that a command of ``kind`` does not write (sorted)."""
    folder, k = Path(folder), _kind(kind)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not _owned(folder, p, k))


def folder_kind(folder: str | Path) -> str | None:
    """The kind of ``folder``: its marker's, else the kind whose signature it holds and all of whose entries
    that kind writes; None for an empty or missing folder or one that no kind claims."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    marker = read_marker(folder)
    if marker is not None:
        return marker["kind"]
    for k in KINDS.values():
        if _legacy_of(folder, k):
            return k.name
    return None


def _legacy_of(folder: Path, k: Kind) -> bool:
    """An unmarked folder of kind ``k`` (written before markers): a signature file and nothing foreign."""
    entries = [p for p in folder.iterdir() if not _matches(p.name, _ALWAYS)]
    if not entries:
        return False
    if k.name == "captures":
        return all(_is_capture(p) for p in entries)
    has_sig = any(_matches(p.name, k.signature) for p in entries)
    return has_sig and all(_owned(folder, p, k) for p in entries)


def _describe(folder: Path, kind: str) -> str:
    """What ``folder`` holds, for a refusal by a command of ``kind``: another kind, or the files not its own."""
    other = folder_kind(folder)
    if other in KINDS:
        k = KINDS[other]
        return f"{k.what} made by '{k.command}'"
    names = foreign_entries(folder, kind) or sorted(p.name for p in folder.iterdir()
                                                    if not _matches(p.name, _ALWAYS))
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"files that are not such a command's ({shown})"


def check_folder(folder: str | Path, kind: str, *, replace: bool = False, flag: str = "--out") -> str:
    """Check that a command of ``kind`` may write ``folder``; returns ``"new"`` (missing or empty) or ``"own"``.

    ``replace``: the command deletes or swaps out what is there (``--overwrite``, a board), so a folder of its
    kind that also holds something it did not make is refused too. Raises :class:`FolderError` otherwise,
    naming the folder and the fix."""
    folder, k = Path(folder), _kind(kind)
    if folder.exists() and (not folder.is_dir() or folder.is_symlink() and not folder.resolve().is_dir()):
        raise FolderError(f"{flag} {folder}: exists and is not a folder; remove it or choose another path")
    if not folder.is_dir() or not any(p for p in folder.iterdir() if not _matches(p.name, _ALWAYS)):
        return "new"
    marker = read_marker(folder)
    fix = "choose a new or empty folder"
    if marker is not None and marker["kind"] != k.name:
        raise FolderError(f"{flag} {folder}: holds {_describe(folder, kind)}; '{k.command}' writes only into an empty "
                          f"folder or one it made (--overwrite replaces only such a folder); {fix}")
    if marker is None and not _legacy_of(folder, k):
        raise FolderError(f"{flag} {folder}: holds {_describe(folder, kind)}; '{k.command}' writes only into an empty "
                          f"folder or one it made (--overwrite replaces only such a folder); {fix}")
    foreign = foreign_entries(folder, kind)
    if replace and foreign:
        raise FolderError(f"{flag} {folder}: holds {foreign[0]!r}, which '{k.command}' did not make; replacing "
                          f"the folder would delete it: move it out of {folder} or {fix}")
    return "own"


def remove_owned(folder: str | Path, kind: str) -> list[str]:
    """Delete what a command of ``kind`` made in ``folder`` (its entries; the marker stays: the folder is still
    that kind's); anything else stays too. Returns the names removed."""
    folder, k = Path(folder), _kind(kind)
    if not folder.is_dir():
        return []
    gone = []
    for p in sorted(folder.iterdir()):
        if _owned(folder, p, k) and not _matches(p.name, _ALWAYS):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            gone.append(p.name)
    return gone


def lock_path(folder: str | Path) -> Path:
    """The lock file of ``folder``: ``.gyrobench-lock-<name>`` beside it."""
    folder = Path(folder).resolve()
    return folder.parent / f".gyrobench-lock-{folder.name or 'root'}"


class Lock:
    """An exclusive lock file holding the owner's pid (``O_CREAT | O_EXCL``); a lock whose process is gone is
    stale and taken over (a reused pid of this very process counts as stale)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def owner(self) -> int | None:
        """The pid of the live process holding the lock, else None."""
        from .io import _alive

        try:
            pid = int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def acquire(self, wait: bool = True, poll_s: float = 5.0) -> bool:
        """Take the lock; with ``wait`` poll until it is free, else return False at once when it is held."""
        said = False
        while True:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self.owner() is None:
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                if not wait:
                    return False
                if not said:
                    log.info("waiting for %s (held by another gyrobench process)", self.path)
                    said = True
                time.sleep(poll_s)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            return True

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def claim(folder: str | Path, kind: str, *, replace: bool = False, flag: str = "--out", made_by: str | None = None,
          marker: bool = True) -> Iterator[str]:
    """Hold ``folder`` for a command of ``kind`` while the block runs: take its lock (refused at once when
    another live process holds it), :func:`check_folder`, create it and write the marker (``marker=False``:
    the caller writes it, e.g. into the temporary folder it swaps in). Yields ``"new"`` or ``"own"``."""
    folder = Path(folder)
    k = _kind(kind)
    check_folder(folder, kind, replace=replace, flag=flag)  # a clear refusal before the lock's own folder is made
    missing = [p for p in (folder, *folder.parents) if not p.exists()]  # made here: removed again on a failure
    lock = Lock(lock_path(folder))
    if not lock.acquire(wait=False):
        raise FolderError(f"{flag} {folder}: another gyrobench process (pid {lock.owner()}) is writing this folder; "
                          f"wait for it to finish, or give '{k.command}' another folder")
    had_marker = True
    try:
        state = check_folder(folder, kind, replace=replace, flag=flag)
        had_marker = (folder / MARKER).is_file()
        if marker and not had_marker:  # an existing marker (e.g. a study's run folder) is kept as it is
            write_marker(folder, kind, made_by)
        yield state
    except BaseException:
        _undo_empty(folder, had_marker, missing)
        raise
    finally:
        lock.release()
        if missing:
            _remove_empty(missing)


def _undo_empty(folder: Path, had_marker: bool, missing: list[Path]) -> None:
    """After a failure: remove the marker this claim wrote into a folder that holds nothing else."""
    if had_marker or not folder.is_dir():
        return
    if [p.name for p in folder.iterdir()] == [MARKER]:
        (folder / MARKER).unlink(missing_ok=True)


def _remove_empty(missing: list[Path]) -> None:
    """Remove the folders in ``missing`` (deepest first) that a failed command left empty."""
    for p in missing:
        try:
            p.rmdir()
        except OSError:
            return
