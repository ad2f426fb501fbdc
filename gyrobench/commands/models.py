"""``gyrobench models``: list registered models with uses_gyro, parameters and GMACs (parse + dispatch only)."""

from __future__ import annotations

import argparse
import json


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--size must be WIDTHxHEIGHT, e.g. 1280x720; got {text!r}") from exc
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"--size must be positive, got {text!r}")
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="models to list (default: all registered)")
    parser.add_argument(
        "--size",
        type=_size,
        default=(720, 1280),
        metavar="WxH",
        help="input size for the MAC count (default 1280x720)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def run(args: argparse.Namespace) -> int:
    from ..errors import GyrobenchError
    from ..models import available
    from ..models.complexity import complexity_table

    known = available()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        raise GyrobenchError(f"unknown model(s) {', '.join(unknown)}; registered models: {', '.join(known)}")
    rows = complexity_table(size=args.size, names=args.names or None)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    h, w = args.size
    nw = max([14] + [len(r.name) for r in rows])
    header = f"{'model':<{nw}} {'options':<14} {'gyro':<5} {'learned':<7} {'params':>12} {'GMACs@' + f'{w}x{h}':>15}  citation / note"
    print(header)
    print("-" * len(header))
    from ..models.small import SMALL_CONFIGS

    for r in rows:
        small = r.options and r.options == SMALL_CONFIGS.get(r.name)
        opts = "small" if small else (",".join(f"{k}={v}" for k, v in r.options.items()) or "default")
        extra = r.note or (f"CPU-study size (gyrobench.models.small): {r.options}" if small
                           else known[r.name].citation)
        print(
            f"{r.name:<{nw}} {opts:<14} {str(r.uses_gyro).lower():<5} {str(r.learned).lower():<7} "
            f"{_fmt(r.params, ',d'):>12} {_fmt(r.gmacs, '.1f' if (r.gmacs or 0) >= 10 else '.3f'):>15}  {extra}"
        )
    return 0
