"""``gyrobench inspect PATH [--sheet PNG] [--json] [--no-verify]``: summary table, verification, contact sheet."""

from __future__ import annotations

import argparse
import json
import sys

from .args import check_out, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="dataset folder (manifest.json + shards) or one shard .h5")
    parser.add_argument("--sheet", default=None, metavar="PNG", help="write a contact sheet (sharp | blurred | field)")
    parser.add_argument("--samples", type=int_in(1, 1000), default=6, help="rows of the contact sheet (default 6)")
    parser.add_argument("--split", default=None, help="contact sheet from this split only")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-verify", action="store_true", help="skip the sha256 check (fast on big datasets)")


def run(args: argparse.Namespace) -> int:
    from ..data.inspect import contact_sheet, format_summary, summarize
    from ..log import get_logger

    if args.sheet:
        check_out(args.sheet, "--sheet", folder=False)
    s = summarize(args.path, verify=not args.no_verify)
    sys.stdout.write((json.dumps(s, indent=1, default=str) if args.json else format_summary(s)) + "\n")
    if args.sheet:
        out = contact_sheet(args.path, args.sheet, n=args.samples, split=args.split)
        get_logger("inspect").info("contact sheet: %s", out)
    return 1 if str(s.get("verification", "ok")).startswith("FAILED") else 0
