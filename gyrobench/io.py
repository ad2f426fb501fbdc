"""Atomic writes of files and whole folders.

Files: a temporary file in the target's folder, fsync, then :func:`os.replace`. A crash or an exception never
leaves a truncated file under the final name (the temporary file is removed on error). Used for manifests,
results records, checkpoints and hand-shake models.

Folders (:func:`atomic_dir`): everything is written into a hidden temporary sibling folder, which then replaces
the target in one step: ``renameat2(RENAME_EXCHANGE)`` on Linux (a reader sees the old folder or the new one,
never neither), else two renames (the target is missing for an instant, never mixed). Used for leaderboards and
replaced datasets. :func:`remove_tree_atomic` removes a folder the same way (rename, then delete).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "write_text_atomic", "atomic_dir", "swap_dirs", "remove_tree_atomic", "stale_temp_dirs",
           "require_space", "free_bytes", "disk_full_message"]

#: name prefix of the hidden sibling folders made by :func:`atomic_dir` and :func:`remove_tree_atomic`
_TMP_TAG = ".gyrobench-tmp"


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path`` (``mode`` ``"w"``: text, UTF-8; ``"wb"``: binary) and move it onto
    ``path`` when the ``with`` block ends without an exception. Creates the parent folder."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding="utf-8" if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str, *, unless_same: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``. ``unless_same``: leave a file that already
    holds exactly ``text`` untouched (its time stamp too)."""
    if unless_same:
        try:
            if Path(path).read_text(encoding="utf-8") == text:
                return Path(path)
        except (OSError, ValueError):  # missing, unreadable or not UTF-8: written anew
            pass
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically with Linux ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def swap_dirs(new: str | Path, dest: str | Path) -> None:
    """Put folder ``new`` in place of ``dest`` (which may not exist) in one step, then delete the old ``dest``."""
    new, dest = Path(new), Path(dest)
    if not dest.exists():
        os.rename(new, dest)
        return
    if not dest.is_dir() or dest.is_symlink():
        raise NotADirectoryError(20, "exists and is not a folder; remove it or choose another path", str(dest))
    if _exchange(new, dest):
        shutil.rmtree(new)  # ``new`` now holds the old contents
        return
    old = dest.with_name(f"{_TMP_TAG}-old-{os.getpid()}-{dest.name}")
    os.rename(dest, old)
    os.rename(new, dest)
    shutil.rmtree(old)


@contextlib.contextmanager
def atomic_dir(dest: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``dest``; when the block ends without an exception it replaces
    ``dest`` (:func:`swap_dirs`). On an exception, or a kill, ``dest`` is untouched; the temporary folder is
    removed on an exception (after a kill, :func:`stale_temp_dirs` finds it and the next run removes it)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(20, "exists and is not a folder; remove it or choose another path", str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temp_dirs(dest):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_TAG}-new-{os.getpid()}-{dest.name}.", dir=dest.parent))
    try:
        yield tmp
        swap_dirs(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def stale_temp_dirs(dest: str | Path) -> list[Path]:
    """Temporary folders of :func:`atomic_dir` / :func:`remove_tree_atomic` for ``dest`` left by a killed run
    whose process is gone."""
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    out = []
    for p in dest.parent.glob(f"{_TMP_TAG}-*"):
        kind, _, rest = p.name[len(_TMP_TAG) + 1:].partition("-")
        pid, _, name = rest.partition("-")
        ours = name.startswith(f"{dest.name}.") if kind == "new" else (kind in ("old", "del") and name == dest.name)
        if ours and pid.isdigit() and not _alive(int(pid)):
            out.append(p)
    return out


def _alive(pid: int) -> bool:
    """Whether another process ``pid`` runs (this process's own leftovers count as stale)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_tree_atomic(path: str | Path) -> None:
    """Remove folder ``path``: first renamed to a hidden sibling (one step: the name is gone or intact), then
    deleted."""
    path = Path(path)
    if not path.exists():
        return
    gone = path.with_name(f"{_TMP_TAG}-del-{os.getpid()}-{path.name}")
    os.rename(path, gone)
    shutil.rmtree(gone)


def free_bytes(path: str | Path) -> int | None:
    """Free bytes on the file system of ``path`` (or of its nearest existing ancestor); None if unknown."""
    p = Path(path)
    for parent in (p, *p.parents):
        try:
            return shutil.disk_usage(parent).free
        except OSError:
            continue
    return None


#: room kept free beyond an estimated write, bytes (file-system metadata, logs, the manifest)
SPACE_MARGIN = 16_000_000


def require_space(path: str | Path, need_bytes: int | float) -> None:
    """Raise :class:`~gyrobench.errors.DiskFullError` (``No space left on device while writing PATH; free N MB``)
    before writing ``need_bytes`` to ``path`` when its disk has less free (plus :data:`SPACE_MARGIN`): some
    writers (HDF5) cannot fail cleanly once the disk is full, so they ask first."""
    from .errors import DiskFullError

    free = free_bytes(Path(path).parent)
    need = float(need_bytes) + SPACE_MARGIN
    if free is not None and free < need:
        raise DiskFullError(disk_full_message(path, need))


def disk_full_message(path, need_bytes: int | float | None = None) -> str:
    """``No space left on device while writing FILE; free N MB (M MB free there) ...``: N is what the write needs
    beyond what is free (at least 1 MB), or 100 MB when the size of the write is unknown."""
    import math

    p = Path(path) if path is not None else Path.cwd()
    free = free_bytes(p.parent if path is not None else p)
    if need_bytes is not None and free is not None:
        mb = max(1, math.ceil((float(need_bytes) - free) / 1e6))
    elif need_bytes is not None:
        mb = max(1, math.ceil(float(need_bytes) / 1e6))
    else:
        mb = 100
    left = f" ({free / 1e6:.0f} MB free there)" if free is not None else ""
    what = str(p) if path is not None else f"into {p}"
    return (f"No space left on device while writing {what}; free {mb} MB{left} and run the command again "
            "(nothing half-written was kept)")
