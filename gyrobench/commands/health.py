"""``gyrobench health``: are a checkpoint's deformable blocks alive? (parse + dispatch only; docs/models.md).

Examples::

    gyrobench health leaderboard/cpu-study/checkpoints/*.pt --data out/study/cpu-data --split test
    gyrobench health runs/gdn/checkpoints/last.pt --data out/demo/data --limit 2 --json
    gyrobench health leaderboard/cpu-ablation/checkpoints/g-full-s1.pt --data out/study/cpu-ablation/data --paths
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .args import COUNT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoints", nargs="+", type=Path, help="gyrobench checkpoint(s) (.pt)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (manifest.json + shards)")
    parser.add_argument("--split", default="test", help="split to run (default: test; 'all' for every sample)")
    parser.add_argument("--gyro-field", default="noisy", choices=("noisy", "clean", "shuffled", "zero"),
                        help="field given to gyro models (default: the stored perturbed one, as in eval)")
    parser.add_argument("--limit", type=COUNT, default=None, help="at most N images")
    parser.add_argument("--device", default=None, help="torch device (default: cpu)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--paths", action="store_true",
                        help="also report what each path carries: the PSNR lost when the deeper levels of the "
                             "U-Net, or the gyro-deblurring blocks, are cut (gyrobench.models.knockout)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any block is dead (for scripts and CI)")


def run(args: argparse.Namespace) -> int:
    from ..evaluate.config import EvalConfig
    from ..evaluate.health import NoDeformableLayer, model_health

    results = []
    for ckpt in args.checkpoints:
        cfg = EvalConfig(data=str(args.data), checkpoint=str(ckpt), split=args.split, gyro_field=args.gyro_field,
                         limit=args.limit, device=args.device or "cpu")
        try:
            label, rows = model_health(cfg)
        except NoDeformableLayer:
            if not args.paths:  # a NAFNet has paths to cut but no deformable block
                raise
            label, rows = str(ckpt), []
        results.append({"checkpoint": str(ckpt), "label": label, "blocks": [r.to_dict() for r in rows]})
        if args.paths:
            from ..evaluate.knockout import path_knockouts

            _, intact, cut_rows = path_knockouts(cfg)
            results[-1]["paths"] = {"intact_psnr": intact, "cuts": [c.to_dict() for c in cut_rows]}
    dead = sum(bool(b["dead"]) for r in results for b in r["blocks"])
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        head = (f"{'checkpoint / layer':<58} {'|offset| px':>11} {'max px':>9} {'inside':>7} {'mask':>6} "
                f"{'live':>6} {'|out|':>9}  state")
        print(head)
        print("-" * len(head))
        for r in results:
            print(r["checkpoint"])
            for b in r["blocks"]:
                state = "DEAD: " + "; ".join(b["dead"]) if b["dead"] else "alive"
                print(f"  {b['name']:<56} {b['offset_mean_px']:>11.3g} {b['offset_max_px']:>9.3g} "
                      f"{100 * b['inside']:>6.1f}% {b['mask_mean']:>6.3f} {b['live']:>6.3f} "
                      f"{b['output_abs']:>9.3g}  {state}")
            if "paths" in r:
                p = r["paths"]
                print(f"  paths (PSNR intact {p['intact_psnr']:.3f} dB): cut -> PSNR, change [95 % interval over "
                      f"images]")
                for c in p["cuts"]:
                    ci = f"[{c['lo']:+.3f}, {c['hi']:+.3f}]" if c["lo"] is not None else ""
                    print(f"    {c['cut']:<54} {c['psnr']:>8.3f} {c['delta_db']:>+8.3f} dB {ci}")
        n = sum(len(r["blocks"]) for r in results)
        print(f"{n} deformable layer(s) in {len(results)} checkpoint(s): {n - dead} alive, {dead} dead "
              f"(split {args.split!r}; floors in gyrobench.models.health.DEAD_FLOORS)")
    return 1 if (args.strict and dead) else 0
