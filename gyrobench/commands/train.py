"""``gyrobench train CONFIG [--resume [CKPT]] [--out DIR]``: parse and dispatch to :func:`gyrobench.train.train`.

Multi-process: ``torchrun --nproc_per_node N -m gyrobench train CONFIG`` (gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import check_out, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="training config (YAML/JSON; see docs/training.md)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default: runs/<config name>); holds config, checkpoints, logs")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CKPT",
                        help="continue from OUT/checkpoints/last.pt (or the checkpoint given)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run already in OUT (without it such a folder is refused)")
    parser.add_argument("--steps", type=int_in(1, 10**8), default=None,
                        help="override schedule.steps (with --resume: extend the run; not below its step)")
    parser.add_argument("--data", type=str, default=None, help="override data.root")
    parser.add_argument("--device", type=str, default=None, help="override device (auto, cpu, cuda, cuda:1)")


def run(args: argparse.Namespace) -> int:
    from ..train.config import load_train_config
    from ..train.trainer import train

    overrides: dict = {}
    if args.steps is not None:
        overrides["schedule"] = {"steps": args.steps, "epochs": None}
    if args.data is not None:
        overrides["data"] = {"root": args.data}
    if args.device is not None:
        overrides["device"] = args.device
    cfg = load_train_config(args.config, overrides or None)
    out = check_out(args.out or Path("runs") / cfg.name, "--out", folder=True)
    resume = args.resume if args.resume is True or args.resume is False else Path(args.resume)
    text = None if overrides else args.config.read_text(encoding="utf-8")
    train(cfg, out, resume=resume, overwrite=args.overwrite, config_text=text)
    return 0
