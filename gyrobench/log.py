"""Logging and progress bars: one concise log line per stage, tqdm bars for anything over a few seconds."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

LOGGER_NAME = "gyrobench"


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Configure the ``gyrobench`` logger for the CLI: ``HH:MM:SS stage message`` on stderr."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 0 else logging.INFO)
    root = logging.getLogger(LOGGER_NAME)
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        root.addHandler(handler)
    root.propagate = False


def progress(iterable=None, *, total=None, desc: str = "", disable: bool | None = None, **kw):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal unless forced)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True, **kw)


@contextmanager
def stage(name: str, logger: logging.Logger | None = None):
    """Log one line when a stage ends: ``<name>: done in 1.23 s``."""
    log = logger or get_logger()
    t0 = time.perf_counter()
    yield
    log.info("%s: done in %.2f s", name, time.perf_counter() - t0)
