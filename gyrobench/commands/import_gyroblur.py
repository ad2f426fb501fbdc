"""``gyrobench import-gyroblur DIR --out DIR``: the official GyroBlur-Synth layout -> gyrobench shards."""

from __future__ import annotations

import argparse
import sys

from .args import COUNT, SEED, check_out, int_in


def _ints(text: str, n: int, what: str) -> tuple[int, ...]:
    from ..errors import RecipeError

    parts = text.replace("x", ",").split(",")
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != n:
        raise RecipeError(f"{what} {text!r}: expected {n} integers separated by commas")
    return vals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="GyroBlur-Synth folder (train/, test/, gyro_train.txt, gyro_test.txt)")
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--splits", default="train,test", help="splits to import (default train,test)")
    parser.add_argument("--shard-size", type=int_in(1, 100_000), default=64)
    parser.add_argument("--dtype", choices=["uint8", "uint16"], default="uint8",
                        help="stored image type (uint8 keeps the released PNG values exactly)")
    parser.add_argument("--starting-point-base", type=int, choices=[0, 1], default=0,
                        help="index base of the starting-point files (unknown upstream; default 0)")
    parser.add_argument("--frame", default="1920x1080", help="full frame WxH of the intrinsics (default 4KRD)")
    parser.add_argument("--K", default=None, help="fx,fy,cx,cy of the full frame (default 4KRD)")
    parser.add_argument("--crop", default="320,180,1280,720", help="stored crop x0,y0,w,h in the full frame")
    parser.add_argument("--limit", type=COUNT, default=None, help="at most N images per split")
    parser.add_argument("--error-model", action=argparse.BooleanOptionalAction, default=True,
                        help="draw a seeded gyro error model (stored as err_*) for splits without supplied "
                             "fields, so their cmf_noisy is perturbed (default on; --no-error-model: noisy = clean)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the error-model draws (default 0)")


def run(args: argparse.Namespace) -> int:
    from ..builder.importer import FOURKRD, import_gyroblur
    from ..errors import RecipeError

    check_out(args.out, "--out", folder=True)
    W, H = _ints(args.frame, 2, "--frame")
    cam = dict(FOURKRD, width=W, height=H)
    if args.K:
        try:
            fx, fy, cx, cy = (float(v) for v in args.K.split(","))
        except ValueError as exc:
            raise RecipeError(f"--K {args.K!r}: expected fx,fy,cx,cy") from exc
        cam.update(fx=fx, fy=fy, cx=cx, cy=cy)
    if args.shard_size < 1:
        raise RecipeError(f"--shard-size {args.shard_size}: must be >= 1")
    import_gyroblur(args.src, args.out, splits=tuple(s for s in args.splits.split(",") if s),
                    shard_size=args.shard_size, dtype=args.dtype, starting_point_base=args.starting_point_base,
                    camera=cam, crop=_ints(args.crop, 4, "--crop"), limit=args.limit,
                    error_model=args.error_model, seed=args.seed,
                    command=" ".join(["gyrobench", *sys.argv[1:]]))
    return 0
