"""``gyrobench study SUITE.yaml [--out DIR] [--publish DIR] [--only RUN] [--fresh] [--plan]``: run a learning study
(see :mod:`gyrobench.study.runner`). A rerun resumes: finished runs are skipped (verified by hash), a
half-trained run continues from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import WORKERS, check_out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="study suite file (YAML; see docs/study.md)")
    parser.add_argument("--out", type=Path, default=None, help="work folder (default out/study/<suite name>)")
    parser.add_argument("--publish", type=Path, default=None,
                        help="board folder for the table, curves, checkpoints and leaderboard (default OUT/board)")
    parser.add_argument("--only", action="append", default=None, metavar="RUN",
                        help="train/evaluate only this run label (repeatable); the table shows finished runs")
    parser.add_argument("--fresh", action="store_true",
                        help="discard earlier runs and references in OUT (the dataset is kept); default: resume")
    parser.add_argument("--plan", action="store_true",
                        help="only print each run's steps and its calibrated training time on this machine")
    parser.add_argument("--workers", type=WORKERS, default=None, help="synthesis worker processes (default: cores, max 4)")


def run(args: argparse.Namespace) -> int:
    from ..study import run_study

    if args.out is not None:
        check_out(args.out, "--out", folder=True)
    if args.publish is not None:
        check_out(args.publish, "--publish", folder=True)
    res = run_study(args.suite, args.out, publish=args.publish, only=args.only, fresh=args.fresh,
                    workers=args.workers, plan_only=args.plan)
    if args.plan:
        print(res["text"])
    return 0
