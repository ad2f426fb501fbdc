"""``gyrobench eval``: parse and dispatch to :func:`gyrobench.evaluate.evaluate`.

Examples::

    gyrobench eval --checkpoint runs/nafnet/checkpoints/last.pt --data data/demo --out results/nafnet
    gyrobench eval --model classical --data data/demo --protocol srgb8
    gyrobench eval --model identity --data data/demo            # the blurred-input row
    gyrobench eval --official gyrodeblurnet --checkpoint ckpt_gyroblur_synth_epoch_300.pt --data DIR
    gyrobench eval --config baselines/classical/eval.yaml      # keys mirror the flags; flags given override
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import GyrobenchError
from .args import COUNT, check_out, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..evaluate import DEFAULT_METRICS
    from ..metrics.protocols import PROTOCOLS

    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="gyrobench checkpoint (.pt), or an official weights file with --official")
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help="evaluation config whose keys mirror these flags (e.g. baselines/*/eval.yaml); "
                             "flags given on the command line override it")
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (manifest.json + shards)")
    parser.add_argument("--protocol", default="gyrodeblurnet_official", choices=sorted(PROTOCOLS),
                        help="metric protocol (INTERFACES.md §7; default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder for results.json, per_image.csv, crops/ (default: runs/eval/<label>)")
    parser.add_argument("--model", default=None,
                        help="non-learned model to evaluate without a checkpoint: classical | identity")
    parser.add_argument("--official", default=None, metavar="NAME",
                        help="load --checkpoint as an official file of model NAME (gyrodeblurnet, nafnet, deepgyro)")
    parser.add_argument("--options", default=None, metavar="JSON",
                        help='model options as JSON, for --model/--official (e.g. \'{"width": 64}\')')
    parser.add_argument("--label", default=None, help="row label in tables (default: model name)")
    parser.add_argument("--split", default="test", help="split to evaluate ('all' for every sample)")
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                        help="comma-separated metric names (default: %(default)s)")
    parser.add_argument("--gyro-field", default="noisy", choices=("noisy", "clean", "shuffled", "zero"),
                        help="field given to gyro models: the stored perturbed one (official), the clean one, "
                             "another test image's (shuffled) or zeros")
    parser.add_argument("--ci", default="t", choices=("t", "bootstrap"), help="95%% interval method")
    parser.add_argument("--limit", type=COUNT, default=None, help="evaluate at most N images")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    parser.add_argument("--save-images", action="store_true", help="also save every restored image (16-bit linear PNG)")
    parser.add_argument("--topiq-weights", default=None, metavar="PATH",
                        help="file or folder with cfanet_nr_koniq_res50-9a73138b.pth (never downloaded)")
    parser.add_argument("--crops", type=int_in(0, 1000), default=3, help="number of images with saved visual crops")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the sha256 check of every shard against the manifest (faster on big sets)")
    _DEFAULTS.clear()
    _DEFAULTS.update({a.dest: a.default for a in parser._actions if a.dest != "help"})
    _TYPES.clear()
    _TYPES.update({a.dest: a.type for a in parser._actions if isinstance(a.type, (int_in,))})


_DEFAULTS: dict = {}
_TYPES: dict = {}  # dest -> ranged type: config values get the same bounds as flags


_PATH_KEYS = {"checkpoint", "data", "out", "topiq_weights"}


def _apply_config(args: argparse.Namespace, parser_defaults: dict) -> None:
    """Fill ``args`` from ``args.config`` (YAML/JSON): a key sets the flag of the same name (dashes as
    underscores) unless that flag was given on the command line (i.e. differs from its default)."""
    from ..config import load_mapping
    from ..errors import RecipeError

    cfg = load_mapping(args.config)
    for key, value in cfg.items():
        dest = key.replace("-", "_")
        if dest not in parser_defaults or dest in ("config", "command", "_module"):
            near = ", ".join(sorted(k for k in parser_defaults if not k.startswith("_") and k != "command"))
            raise RecipeError(f"{args.config}: unknown key '{key}'; valid keys (the eval flags): {near}")
        if getattr(args, dest) != parser_defaults[dest]:
            continue  # the command line wins
        if dest == "options" and isinstance(value, dict):
            value = json.dumps(value)
        elif dest == "metrics" and isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif dest in _PATH_KEYS and value is not None:
            value = Path(str(value))
        elif dest in _TYPES and value is not None:
            try:
                value = _TYPES[dest](str(value))
            except argparse.ArgumentTypeError as exc:
                raise RecipeError(f"{args.config}: key '{key}': {exc}") from None
        setattr(args, dest, value)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate

    if args.config is not None:
        _apply_config(args, _DEFAULTS)
    if args.data is None:
        raise GyrobenchError("give --data DIR (a dataset folder with manifest.json), or 'data:' in --config")
    if args.checkpoint is None and args.model is None:
        raise GyrobenchError("give --checkpoint PATH (trained model) or --model classical|identity")
    options = None
    if args.options:
        try:
            options = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise GyrobenchError(f"--options: not valid JSON ({exc}); e.g. --options '{{\"width\": 64}}'") from exc
        if not isinstance(options, dict):
            raise GyrobenchError("--options must be a JSON object, e.g. '{\"width\": 64}'")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    label = args.label or args.official or args.model or (args.checkpoint.stem if args.checkpoint else "model")
    out = check_out(args.out or Path("runs") / "eval" / label, "--out", folder=True)
    metric_options = {"topiq_nr": {"weights": args.topiq_weights}} if args.topiq_weights else None
    evaluate(args.checkpoint, args.data, protocol=args.protocol, out_dir=out, save_images=args.save_images,
             limit=args.limit, device=args.device, metrics=metrics, model=args.model, official=args.official,
             model_options=options, label=args.label, split=None if args.split == "all" else args.split,
             gyro_field=args.gyro_field, ci=args.ci, n_crops=args.crops, metric_options=metric_options,
             verify=not args.no_verify)
    return 0
