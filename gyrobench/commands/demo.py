"""``gyrobench demo [--out DIR] [--publish DIR] [--quick]``: the end-to-end demo (see :mod:`gyrobench.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import WORKERS, check_out, float_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="work folder (data, runs, results)")
    parser.add_argument("--publish", type=Path, default=None,
                        help="leaderboard folder (default OUT/leaderboard; make demo uses leaderboard/demo)")
    parser.add_argument("--quick", action="store_true", help="shrunken demo (smoke recipe, 2 steps) for tests")
    parser.add_argument("--train-seconds", type=float_in(0, 1e6), default=None,
                        help="wall-clock cap per model (default 150 s; the demo trains a fixed number of steps per model)")
    parser.add_argument("--models", nargs="+", default=None, help="subset of the demo models")
    parser.add_argument("--workers", type=WORKERS, default=None,
                        help="synthesis worker processes (default: the number of CPU cores, at most 4)")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    check_out(args.out, "--out", folder=True)
    if args.publish:
        check_out(args.publish, "--publish", folder=True)
    run_demo(args.out, publish=args.publish, quick=args.quick, train_seconds=args.train_seconds,
             models=tuple(args.models) if args.models else None, workers=args.workers)
    return 0
