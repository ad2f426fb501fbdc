"""``gyrobench eval``: parse and dispatch to :func:`gyrobench.evaluate.evaluate`.

Examples::

    gyrobench eval --checkpoint runs/nafnet/checkpoints/last.pt --data data/demo --out results/nafnet
    gyrobench eval --model classical --data data/demo --protocol srgb8
    gyrobench eval --model identity --data data/demo            # the blurred-input row
    gyrobench eval --official gyrodeblurnet --checkpoint ckpt_gyroblur_synth_epoch_300.pt --data DIR
    gyrobench eval --config baselines/classical/eval.yaml      # keys mirror the flags; flags given override
    gyrobench eval --model classical --captures captures/ --out runs/eval-captures/classical   # NIQE/TOPIQ only
    gyrobench eval --config captures-eval.yaml                 # the same with 'captures: captures/' in the file
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import GyrobenchError
from .args import COUNT, check_out, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..evaluate.config import DEFAULT_METRICS, GYRO_FIELDS, MAX_CROPS
    from ..metrics.protocols import PROTOCOLS

    # Every default is None: a flag that was not given leaves the config file's key (or EvalConfig's default).
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="gyrobench checkpoint (.pt), or an official weights file with --official")
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help="evaluation config whose keys mirror these flags (e.g. baselines/*/eval.yaml); "
                             "flags given on the command line override it")
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (manifest.json + shards)")
    parser.add_argument("--captures", type=Path, default=None,
                        help="instead of --data: a folder of capture folders (real photos, no reference): "
                             "NIQE/TOPIQ on the display-encoded outputs (docs/captures.md); the config key "
                             "'captures'")
    parser.add_argument("--protocol", default=None, choices=sorted(PROTOCOLS),
                        help="metric protocol (docs/metrics.md; default: gyrodeblurnet_official)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder for results.json, per_image.csv, crops/ (default: runs/eval/<label>)")
    parser.add_argument("--model", default=None,
                        help="non-learned model to evaluate without a checkpoint: classical | identity")
    parser.add_argument("--official", default=None, metavar="NAME",
                        help="load --checkpoint as an official file of model NAME (gyrodeblurnet, nafnet, deepgyro)")
    parser.add_argument("--options", default=None, metavar="JSON",
                        help='model options as JSON, for --model/--official (e.g. \'{"width": 64}\')')
    parser.add_argument("--label", default=None, help="row label in tables (default: model name)")
    parser.add_argument("--split", default=None, help="split to evaluate ('all' for every sample; default: test)")
    parser.add_argument("--metrics", default=None,
                        help=f"comma-separated metric names (default: {','.join(DEFAULT_METRICS)})")
    parser.add_argument("--gyro-field", default=None, choices=GYRO_FIELDS,
                        help="field given to gyro models: the stored perturbed one (official, default), the clean "
                             "one, another test image's (shuffled) or zeros")
    parser.add_argument("--ci", default=None, choices=("t", "bootstrap"), help="95%% interval method (default: t)")
    parser.add_argument("--limit", type=COUNT, default=None, help="evaluate at most N images")
    parser.add_argument("--device", default=None, help="torch device (cpu, cuda, cuda:1; default: cpu)")
    parser.add_argument("--save-images", action="store_true", default=None,
                        help="also save every restored image (16-bit linear PNG)")
    parser.add_argument("--topiq-weights", default=None, metavar="PATH",
                        help="file or folder with cfanet_nr_koniq_res50-9a73138b.pth (never downloaded)")
    parser.add_argument("--crops", type=int_in(0, MAX_CROPS), default=None,
                        help="number of images with saved visual crops (default: 3)")
    parser.add_argument("--overwrite", action="store_true", default=None,
                        help="replace the record of another evaluation (another model or checkpoint) in --out; "
                             "without it such a folder is refused")
    parser.add_argument("--no-verify", action="store_true", default=None,
                        help="skip the sha256 check of every shard against the manifest (faster on big sets)")


NO_FLAG = {"command", "crop_size", "seed", "metric_options"}  # EvalConfig keys set only in a config file


def flag_overrides(args: argparse.Namespace) -> dict:
    """The EvalConfig keys of the flags given on the command line (JSON options and comma lists parsed)."""
    from ..evaluate import EvalConfig

    keys = set(EvalConfig.__dataclass_fields__) - NO_FLAG
    out = {k: v for k, v in vars(args).items() if k in keys and v is not None}
    if "options" in out:
        try:
            out["options"] = json.loads(out["options"])
        except json.JSONDecodeError as exc:
            raise GyrobenchError(f"--options: not valid JSON ({exc}); e.g. --options '{{\"width\": 64}}'") from exc
        if not isinstance(out["options"], dict):
            raise GyrobenchError("--options must be a JSON object, e.g. '{\"width\": 64}'")
    if "metrics" in out:
        out["metrics"] = [m.strip() for m in out["metrics"].split(",") if m.strip()]
    return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


def run(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate, load_eval_config

    cfg = load_eval_config(args.config, flag_overrides(args))  # --captures DIR is the config's 'captures: DIR'
    check_out(cfg.out_dir(), "--out", folder=True)
    evaluate(cfg)
    return 0
