"""``gyrobench infer``: restore one capture with a checkpoint (``--checkpoint``) or ``--model classical``.

Writes ``restored_srgb.png``, ``restored_linear16.png``, ``input_srgb.png``, ``field.png`` and ``infer.json``
into ``--out`` (default ``runs/infer/<capture name>``); see ``docs/captures.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .args import check_out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a checkpoint written by 'gyrobench train'")
    src.add_argument("--model", choices=("classical",), help="a non-learned model")
    parser.add_argument("--capture", required=True, help="capture folder (capture.json + photo + gyro)")
    parser.add_argument("--options", default=None, help="model options as JSON (with --model)")
    parser.add_argument("--out", default=None, help="output folder (default runs/infer/<capture name>)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--overwrite", action="store_true", help="replace the restoration already in --out "
                                                                 "(else refused)")


def run(args: argparse.Namespace) -> int:
    from ..errors import GyrobenchError
    from ..restore.infer import infer_capture

    opts = None
    if args.options:
        try:
            opts = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise GyrobenchError(f"--options: not valid JSON ({exc.msg}); e.g. '{{\"lam\": 0.03}}'") from None
    out = check_out(args.out or Path("runs") / "infer" / Path(args.capture).resolve().name, "--out", folder=True)
    infer_capture(args.capture, out, checkpoint=args.checkpoint, model=args.model, model_options=opts,
                  device=args.device, overwrite=args.overwrite)
    return 0
