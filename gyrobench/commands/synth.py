"""``gyrobench synth RECIPE --out DIR [--workers N] [--scheduler ADDR] [--renderer R] [--limit N] [--set K=V]``."""

from __future__ import annotations

import argparse
import sys

from .args import COUNT, WORKERS, check_out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML path or builtin name (smoke, demo, gyroblur-synth)")
    parser.add_argument("--out", required=True, help="output folder (manifest.json + shard-*.h5); rerun to resume")
    parser.add_argument("--workers", type=WORKERS, default=1, help="local worker processes (joblib), default 1")
    parser.add_argument("--scheduler", default=None,
                        help="dask.distributed scheduler address (e.g. tcp://host:8786): run shards on that cluster")
    parser.add_argument("--device", default="cpu", help="torch device for warps and degradation (cpu, cuda)")
    parser.add_argument("--renderer", default="auto", choices=("auto", "opencv", "torch"),
                        help="blur renderer: auto = opencv on the CPU (fast), torch on a GPU; recorded in the manifest")
    parser.add_argument("--limit", type=COUNT, default=None, help="at most N samples per split (quick runs)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset of another recipe already in --out (built aside, swapped in at the end)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. --set splits.0.size=8 (repeatable; YAML values)")


def run(args: argparse.Namespace) -> int:
    from ..builder.pipeline import synthesize
    from ..builder.recipe import load_recipe

    check_out(args.out, "--out", folder=True)
    recipe = load_recipe(args.recipe, args.overrides)
    synthesize(recipe, args.out, workers=args.workers, scheduler=args.scheduler, limit=args.limit, device=args.device,
               renderer=args.renderer, overwrite=args.overwrite,
               command=" ".join(["gyrobench", *sys.argv[1:]]) if sys.argv and sys.argv[0] else "gyrobench synth")
    return 0
