"""Argument types and output-path checks shared by the subcommands (issue 13: no traceback from argument values).

Every numeric option has a range: :func:`int_in` / :func:`float_in` are argparse ``type=`` callables, so a value
out of range, NaN or infinite is refused when the command line is parsed (argparse's usage line plus one error
line, exit 2), before any work starts. The bounds are generous: they catch a typo (a negative count, a few extra
zeros), not an unusual experiment.

:func:`check_out` checks an output path before a command starts working (so an hours-long run does not fail at
its first write): no file in the way of a folder, no over-long name, a writable existing ancestor.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..errors import GyrobenchError

__all__ = ["int_in", "float_in", "check_out", "SEED", "COUNT", "WORKERS"]


class _Ranged:
    """Base of the ranged argparse types; ``lo``/``hi`` are readable by the tests that walk the CLI."""

    kind = "number"

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def _fail(self, text: str):
        raise argparse.ArgumentTypeError(f"{text!r}: give {self.describe()}")

    def describe(self) -> str:
        return f"{'an integer' if self.kind == 'int' else 'a number'} from {self.lo:,} to {self.hi:,}"

    def __repr__(self) -> str:  # argparse names the type in its message: "invalid int_in value"
        return f"{type(self).__name__}({self.lo}, {self.hi})"


class int_in(_Ranged):  # noqa: N801  (reads like a type in add_argument)
    """``type=int_in(lo, hi)``: an integer with ``lo <= value <= hi``."""

    kind = "int"

    def __call__(self, text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            self._fail(text)
        if not self.lo <= value <= self.hi:
            self._fail(text)
        return value


class float_in(_Ranged):  # noqa: N801
    """``type=float_in(lo, hi, open_lo=True)``: a finite number with ``lo < value <= hi`` (``lo <= value`` when
    ``open_lo`` is false)."""

    kind = "float"

    def __init__(self, lo: float, hi: float, open_lo: bool = True):
        super().__init__(lo, hi)
        self.open_lo = open_lo

    def describe(self) -> str:
        return f"a number {'above' if self.open_lo else 'from'} {self.lo:g} {'up ' if self.open_lo else ''}to {self.hi:g}"

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            self._fail(text)
        if not math.isfinite(value) or value > self.hi or value < self.lo or (self.open_lo and value == self.lo):
            self._fail(text)
        return value


#: seeds: any non-negative 63-bit integer (NumPy's SeedSequence and torch.manual_seed both take it)
SEED = int_in(0, 2**63 - 1)
#: counts of images / samples per split
COUNT = int_in(1, 10**9)
#: local worker processes
WORKERS = int_in(1, 1024)


def check_out(path: str | Path, flag: str, *, folder: bool) -> Path:
    """Refuse an output path that cannot be written, in one line naming ``flag`` and the fix.

    ``folder``: the path is a folder to create or reuse (else a file to write). Checks: no component longer than
    the file system allows, no existing file where a folder is needed (the path itself for a folder, any parent),
    and the nearest existing ancestor is a writable folder."""
    p = Path(path)
    try:
        limit = os.pathconf(_existing_ancestor(p), "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in p.parts:
        if len(os.fsencode(part)) > limit:
            raise GyrobenchError(f"{flag}: the name {part[:24]}... is {len(os.fsencode(part))} bytes, more than the "
                                 f"{limit} the file system allows; choose a shorter name")
    if folder and p.exists() and not p.is_dir():
        raise GyrobenchError(f"{flag} {path}: is a file, but a folder is needed; remove it or choose another path")
    if not folder and p.is_dir():
        raise GyrobenchError(f"{flag} {path}: is a folder, but a file is needed; give a file name")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise GyrobenchError(f"{flag} {path}: {parent} is a file, so nothing can be created under it; "
                                     "choose another path")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise GyrobenchError(f"{flag} {path}: folder {parent} is not writable; choose another path")
            break
    return p


def _existing_ancestor(p: Path) -> Path:
    for parent in (p, *p.parents):
        if parent.is_dir():
            return parent
    return Path(".")
