"""``gyrobench leaderboard RESULTS... --out DIR``: publish results records as tables, plots and a web page."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", nargs="+", help="results record JSON files, or folders searched recursively"
    )
    parser.add_argument("--out", required=True, help="output folder, e.g. leaderboard/NAME")
    parser.add_argument("--title", default=None, help="page and table title (default: from the folder name)")
    parser.add_argument(
        "--with-paper-reference",
        action="store_true",
        help="also write reference.md and a separate, labelled block of the published numbers "
        "(spec §7, unverified secondary notes)",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="tables and page only (no matplotlib figures)"
    )


def run(args: argparse.Namespace) -> int:
    from ..leaderboard import publish
    from ..log import get_logger
    from .args import check_out

    check_out(args.out, "--out", folder=True)
    written = publish(
        args.results,
        args.out,
        title=args.title,
        with_paper_reference=args.with_paper_reference,
        plots_enabled=not args.no_plots,
    )
    get_logger("leaderboard").info("wrote %s", ", ".join(sorted(p.name for p in written.values())))
    return 0
