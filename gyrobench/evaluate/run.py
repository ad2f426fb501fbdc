"""``evaluate(cfg)``: restore a split at full resolution, score every image, write a results record.

Spec ``gyrodeblurnet.md`` §6.2 (synthetic evaluation, test.py) and §6.3 (NR metrics); docs/metrics.md.

:func:`evaluate` is five named steps: :func:`prepare` (model, dataset, protocol), the metric set
(:class:`gyrobench.metrics.MetricSet`, which owns the rule that drops a metric for the whole run when one image
cannot be scored), :func:`restore_and_score` (the image loop), :func:`make_record` and the writes. It writes into
``cfg.out_dir()`` (one folder per evaluation):

- ``results.json``: the record (:class:`gyrobench.results.ResultsRecord`);
- ``per_image.csv``: ``sample_id, <metrics...>, blur_extent_px`` (+ ``inference_s``, ``height``, ``width``);
- ``crops/``: a few centre crops (``crop_size`` px) of blurred / restored / sharp per chosen image, 8-bit
  **sRGB display** PNGs (the dataset is linear; these are for looking at);
- ``restored/`` (``save_images``): every restored image as a 16-bit **linear** RGB PNG.

Conventions:

- Images come from ``ShardDataset(root, split, crop=None)``: whole stored images, linear, the field covering the
  image padded to a multiple of 8 (the model crops its output back; spec §9.9). Batch size 1.
- Gyro input (``gyro_field``): ``"noisy"`` (default, as test.py: the perturbed field from the stored
  error-model draw in *both* slots, alpha = 1), ``"clean"`` (the field of the clean gyro in both slots:
  an oracle-gyro upper bound), ``"shuffled"`` (the noisy field of the *next* test image, ``(i + 1) mod n``:
  a derangement, so every image gets a real but wrong field; tests whether a model uses its gyro) or
  ``"zero"`` (all-zero fields: no motion). Recorded in ``protocol_options``.
- ``blur_extent_px``: see :mod:`gyrobench.evaluate.outputs`.
- Restored images are clamped to [0, 1] before scoring (the protocol's encoding clamps anyway).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.dataset import ShardDataset, collate
from ..data.manifest import content_fingerprint, read_manifest
from ..device import resolve_device
from ..errors import GyrobenchError
from ..folders import FolderError, claim, write_marker
from ..io import atomic_dir
from ..log import get_logger, progress
from ..metrics import MetricSet, Protocol, get_protocol
from ..models.dcn import dcn_backends
from ..models.health import deform_layers, probe
from ..provenance import git_commit, machine, sha256_file, versions
from ..results import ResultsRecord, write_per_image_csv, write_record
from .config import EvalConfig
from .model import build_eval_model, model_field_spec
from .outputs import centre_crop, field_path_length_px, save_png, slug

__all__ = ["evaluate", "evaluate_captures_cfg", "prepare", "restore_and_score", "make_record", "Run", "Images"]

log = get_logger("evaluate")


@dataclass
class Run:
    """What :func:`prepare` resolved: the device, protocol, model (and where it came from), label and dataset."""

    cfg: EvalConfig
    device: str
    protocol: Protocol
    net: Any
    info: dict
    name: str
    label: str
    dataset: ShardDataset
    n: int
    out_dir: Path


@dataclass
class Images:
    """What :func:`restore_and_score` produced: per-image rows (without metrics), crops and the model time."""

    rows: list[dict] = field(default_factory=list)
    crops: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    health: list | None = None  # BlockHealth per deformable layer, over every image (None: the model has none)


def evaluate(cfg: EvalConfig) -> Path:
    """Evaluate ``cfg``; returns the path of the written ``results.json``. A ``captures`` source (no reference)
    is scored by :func:`gyrobench.restore.score.evaluate_captures` (:func:`evaluate_captures_cfg`)."""
    out = cfg.out_dir()
    # the folder is one evaluation's (gyrobench.folders); it is written aside and swapped in whole, so a rerun
    # (even with a smaller --limit) leaves nothing of the earlier one, and a kill leaves the earlier one whole
    with claim(out, "eval", replace=True, marker=False):
        if cfg.captures is not None:
            _check_same_evaluation(out, cfg, None)
            with atomic_dir(out) as tmp:
                write_marker(tmp, "eval")
                evaluate_captures_cfg(cfg, tmp)
            return out / "results.json"
        run = prepare(cfg)
        _check_same_evaluation(out, cfg, run)
        with atomic_dir(out) as tmp:
            write_marker(tmp, "eval")
            run.out_dir = tmp
            metrics = MetricSet(cfg.metrics, protocol=run.protocol, device=run.device,
                                options=cfg.all_metric_options())
            images = restore_and_score(run, metrics)
            summaries = metrics.summaries(cfg.ci, cfg.seed)
            rows = [{"sample_id": r["sample_id"], **m, **{k: v for k, v in r.items() if k != "sample_id"}}
                    for r, m in zip(images.rows, metrics.rows, strict=True)]
            csv_path = write_per_image_csv(rows, tmp / "per_image.csv", metrics.reported)
            record = make_record(run, metrics, summaries, images, csv_path)
            write_record(tmp / "results.json", record)
        run.out_dir = out
        path = out / "results.json"
        means = ", ".join(f"{k} {v['mean']:.4f}" for k, v in summaries.items())
        log.info("eval %s: %d images, %s -> %s", run.label, len(images.rows), means or "no metric", path)
        return path


def _check_same_evaluation(out: Path, cfg: EvalConfig, run: Run | None) -> None:
    """Refuse (unless ``cfg.overwrite``) an ``out`` holding the record of another evaluation: another model,
    checkpoint (by sha256), model options or label. Rerunning the same evaluation replaces its record."""
    old = out / "results.json"
    if cfg.overwrite or not old.is_file():
        return
    import json

    try:
        rec = json.loads(old.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        rec = None
    if not isinstance(rec, dict):
        raise FolderError(f"--out {out}: holds an unreadable results.json; pass --overwrite to replace it, or "
                          "choose another --out")
    if run is not None:
        new = {"model": run.name, "checkpoint_sha256": run.info["checkpoint_sha256"],
               "options": dict(getattr(run.net, "options", {}) or {}), "label": run.label}
    else:
        new = {"model": cfg.model or (Path(cfg.checkpoint).stem if cfg.checkpoint else None), "label": cfg.label}
    differ = [k for k, v in new.items() if k in rec and v is not None and rec.get(k) != v
              and not (k == "options" and json.dumps(rec.get(k), sort_keys=True) == json.dumps(v, sort_keys=True))]
    if differ:
        raise FolderError(f"--out {out}: holds the record of another evaluation ({rec.get('label') or rec.get('model')};"
                          f" {', '.join(differ)} differ); pass --overwrite to replace it, or choose another --out")


def evaluate_captures_cfg(cfg: EvalConfig, out_dir: Path | None = None) -> Path:
    """``cfg.captures``: restore every capture and compute the no-reference metrics on the display-encoded
    outputs; the record's ``split`` is ``"real captures (no reference)"`` (its leaderboard group)."""
    from ..restore.score import evaluate_captures

    return evaluate_captures(cfg.captures, out_dir or cfg.out_dir(), checkpoint=cfg.checkpoint, model=cfg.model,
                             model_options=cfg.options or None, label=cfg.label, metrics=cfg.metrics,
                             metric_options=cfg.all_metric_options() or None, ci=cfg.ci, seed=cfg.seed,
                             n_crops=cfg.crops, crop_size=cfg.crop_size, device=str(resolve_device(cfg.device)),
                             command=cfg.command)


def prepare(cfg: EvalConfig) -> Run:
    """Resolve the device, protocol and model, and open the dataset with the fields the model was trained on."""
    device = str(resolve_device(cfg.device))
    proto = get_protocol(cfg.protocol)
    net, info = build_eval_model(cfg.checkpoint, model=cfg.model, official=cfg.official,
                                 model_options=cfg.options, device=device)
    name = getattr(net, "name", cfg.model or cfg.official or "model")
    label = cfg.label or (name if info["checkpoint"] is None else f"{name} ({Path(info['checkpoint']).stem})")
    spec = model_field_spec(net, info)
    if spec is not None:
        log.info("eval %s: motion fields %s (stored ones are read only when they are the same)", label, spec)
    ds = ShardDataset(cfg.data, split=cfg.dataset_split, crop=None, verify=not cfg.no_verify, fields=True,
                      field=spec)
    n = len(ds) if cfg.limit is None else min(len(ds), int(cfg.limit))
    if n == 0:
        raise GyrobenchError(f"{cfg.data}: split {cfg.split!r} has no samples to evaluate")
    return Run(cfg=cfg, device=device, protocol=proto, net=net, info=info, name=name, label=label, dataset=ds,
               n=n, out_dir=cfg.out_dir())


def shuffled_field(ds, idx: int, n: int, own: torch.Tensor) -> torch.Tensor:
    """The noisy field of sample ``(idx + 1) mod n`` shaped like ``own`` (1, 2M, h, w): a wrong but real field."""
    if n < 2:
        raise GyrobenchError("gyro_field='shuffled' needs at least 2 test images (each gets another's field)")
    other = ds[(idx + 1) % n]["cmf_noisy"][None]
    if other.shape != own.shape:
        raise GyrobenchError(f"gyro_field='shuffled': fields of samples {idx} and {(idx + 1) % n} differ in shape "
                             f"({tuple(own.shape)} vs {tuple(other.shape)}); use a split of equal-sized images")
    return other.to(own.dtype)


def gyro_input(run: Run, batch: dict, idx: int) -> dict:
    """Put the chosen field (``cfg.gyro_field``, module docstring) in both slots, alpha = 1 (as test.py)."""
    gyro_field = run.cfg.gyro_field
    if gyro_field == "shuffled":
        batch["cmf_noisy"] = shuffled_field(run.dataset, idx, run.n, batch["cmf_noisy"])
    elif gyro_field == "zero":
        batch["cmf_noisy"] = torch.zeros_like(batch["cmf_noisy"])
    if gyro_field == "clean":
        batch["cmf_noisy"] = batch["cmf_clean"]
    else:
        batch["cmf_clean"] = batch["cmf_noisy"]
    batch["alpha"] = 1.0
    return batch


def restore(run: Run, batch: dict) -> tuple[torch.Tensor, float]:
    """The model's restoration of ``batch`` (clamped to [0, 1]) and the seconds the model call took."""
    t0 = time.perf_counter()
    with torch.no_grad():
        restored = run.net(batch)
    if restored.device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    if restored.shape != batch["blurred"].shape:
        raise GyrobenchError(f"model '{run.name}' returned {tuple(restored.shape)} for input "
                             f"{tuple(batch['blurred'].shape)}; models must crop their padding away")
    return restored.float().clamp(0, 1), dt


def save_crops(run: Run, sid: str, images: dict[str, torch.Tensor | None]) -> dict:
    """Centre crops of ``images`` (blurred, restored, sharp) as display PNGs; the record's crop entry."""
    entry: dict = {"sample_id": sid}
    for key, img in images.items():
        if img is None:
            entry[key] = None
            continue
        rel = Path("crops") / f"{slug(sid)}_{key}.png"
        save_png(run.out_dir / rel, centre_crop(img, run.cfg.crop_size), linear16=False)
        entry[key] = rel.as_posix()
    return entry


def restore_and_score(run: Run, metrics: MetricSet) -> Images:
    """The image loop: restore every image, score it, record its blur extent, save the chosen crops."""
    cfg, n = run.cfg, run.n
    crop_at = set(np.unique(np.linspace(0, n - 1, num=min(cfg.crops, n)).round().astype(int)).tolist()) \
        if cfg.crops > 0 else set()
    out = Images()
    layers = deform_layers(run.net) if isinstance(run.net, torch.nn.Module) else {}
    with probe(run.net) if layers else contextlib.nullcontext() as health:
        for idx in progress(range(n), desc=f"eval {run.label}"):
            _restore_one(run, metrics, out, idx, idx in crop_at)
    if layers:
        out.health = health.report()
        for h in out.health:
            why = h.dead()
            log.log(logging.WARNING if why else logging.INFO,
                    "eval %s: deformable layer %s: offsets %.2f px (max %.1f), %.1f %% inside, mask %.3f, "
                    "output %.3g%s", run.label, h.name, h.offset_mean_px, h.offset_max_px, 100 * h.inside,
                    h.mask_mean, h.output_abs, f": DEAD ({'; '.join(why)})" if why else "")
    return out


def _restore_one(run: Run, metrics: MetricSet, out: Images, idx: int, crop: bool) -> None:
    """Restore image ``idx``, score it and append its row (and crops) to ``out``."""
    cfg = run.cfg
    sample = run.dataset[idx]
    batch = gyro_input(run, collate([sample]), idx)
    sid = batch["meta"]["sample_id"][0]
    batch = {k: v.to(run.device) if torch.is_tensor(v) else v for k, v in batch.items()}
    h, w = batch["blurred"].shape[-2:]
    restored, dt = restore(run, batch)
    out.seconds += dt
    sharp = batch.get("sharp")
    metrics.score(sid, restored, sharp)
    out.rows.append({"sample_id": sid, "blur_extent_px": field_path_length_px(sample["cmf_clean"], h, w),
                     "inference_s": dt, "height": int(h), "width": int(w)})
    if crop:
        out.crops.append(save_crops(run, sid, {"blurred": batch["blurred"][0], "restored": restored[0],
                                               "sharp": sharp[0] if sharp is not None else None}))
    if cfg.save_images:
        save_png(run.out_dir / "restored" / f"{slug(sid)}.png", restored[0], linear16=True)


def make_record(run: Run, metrics: MetricSet, summaries: dict, images: Images, csv_path: Path) -> ResultsRecord:
    """The results record of the run (schema: :class:`gyrobench.results.ResultsRecord`)."""
    cfg, info = run.cfg, run.info
    manifest = read_manifest(run.dataset.data_dir)
    extents = np.array([r["blur_extent_px"] for r in images.rows])
    metric_extra = {k: {kk: vv for kk, vv in v.items() if isinstance(vv, str | int | float | bool)}
                    for k, v in cfg.all_metric_options().items()}
    if "niqe" in metrics.active:
        metric_extra.setdefault("niqe", {})["compat"] = metrics.active["niqe"].compat
    backend = dcn_backends(run.net) if isinstance(run.net, torch.nn.Module) else None
    record = {
        "model": run.name,
        "label": run.label,
        "options": dict(getattr(run.net, "options", {}) or {}),
        "uses_gyro": bool(getattr(run.net, "uses_gyro", False)),
        "model_source": info["source"],
        "checkpoint": info["checkpoint"],
        "checkpoint_sha256": info["checkpoint_sha256"],
        "dataset": str(cfg.data),
        "dataset_manifest_sha256": sha256_file(Path(run.dataset.data_dir) / "manifest.json"),
        "dataset_fingerprint": content_fingerprint(manifest),
        "recipe_sha256": manifest.get("recipe_sha256"),
        "split": cfg.dataset_split,
        "protocol": run.protocol.name,
        "protocol_options": {**run.protocol.to_dict(), "gyro_field": cfg.gyro_field, "alpha": 1.0,
                             "metric_options": metric_extra, "batch_size": 1, "resolution": "full"},
        "metrics": summaries,
        "unavailable": metrics.unavailable,
        "per_image_csv": csv_path.relative_to(run.out_dir).as_posix(),
        "crops": images.crops,
        "n_images": len(images.rows),
        "blur_extent_px": {"mean": float(extents.mean()), "median": float(np.median(extents)),
                           "max": float(extents.max())},
        "timing": {"inference_s_mean": images.seconds / len(images.rows), "device": run.device,
                   "note": "model call only, batch 1, full resolution"},
        "command": cfg.command or " ".join(shlex.quote(a) for a in ["gyrobench", *sys.argv[1:]]),
        "versions": versions(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git_commit": git_commit(),
        "dcn_backend": backend or None,  # the deformable-conv implementation that actually ran
        "train": info["train"],
        "deform_health": [h.to_dict() for h in images.health] if images.health else None,
    }
    return ResultsRecord.from_json({"format": ResultsRecord.format, **record}, source=str(run.out_dir))
