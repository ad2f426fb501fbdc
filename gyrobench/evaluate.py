"""Evaluation: restore the test split at full resolution, score every image, write a results record.

Spec ``gyrodeblurnet.md`` §6.2 (synthetic evaluation, test.py) and §6.3 (NR metrics); INTERFACES.md §7–§8.

``evaluate(checkpoint, data_dir, protocol=..., out_dir=...)`` writes into ``out_dir`` (one folder per
evaluation):

- ``results.json``: the record (schema in :mod:`gyrobench.results`);
- ``per_image.csv``: ``sample_id, <metrics...>, blur_extent_px`` (+ ``inference_s``, ``height``, ``width``);
- ``crops/``: a few centre crops (``crop_size`` px) of blurred / restored / sharp per chosen image, 8-bit
  **sRGB display** PNGs (the dataset is linear; these are for looking at);
- ``restored/`` (``save_images=True``): every restored image as a 16-bit **linear** RGB PNG.

Model sources: a gyrobench checkpoint (rebuilt by ``gyrobench.train.checkpoint.model_from_checkpoint``), an
official checkpoint (``official="gyrodeblurnet"|"nafnet"`` through ``gyrobench.models.load_official``), or a
non-learned model by name (``model="classical"``, or ``model="identity"``: the blurred input itself, the
"blurred input" row of the tables).

Conventions:

- Images come from ``ShardDataset(root, split, crop=None)``: whole stored images, linear, the field covering the
  image padded to a multiple of 8 (the model crops its output back; spec §9.9). Batch size 1.
- Gyro input (``gyro_field``): ``"noisy"`` (default, as test.py: the perturbed field from the stored
  error-model draw in *both* slots, alpha = 1), ``"clean"`` (the field of the clean gyro in both slots:
  an oracle-gyro upper bound), ``"shuffled"`` (the noisy field of the *next* test image, ``(i + 1) mod n``:
  a derangement, so every image gets a real but wrong field; tests whether a model uses its gyro) or
  ``"zero"`` (all-zero fields: no motion). Recorded in ``protocol_options``.
- ``blur_extent_px``: path length of the image-centre trajectory, the sum over the M segments of
  ``|(dx, dy)|`` of the **clean** field at the centre grid point (full-resolution pixels): the blur that
  was actually rendered, whatever the gyro input.
- Restored images are clamped to [0, 1] before scoring (the protocol's encoding clamps anyway).
"""

from __future__ import annotations

import datetime as _dt
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .device import resolve_device
from .errors import GyrobenchError, ShapeError
from .log import get_logger, progress
from .metrics import create_metric, get_protocol
from .metrics.registry import MetricUnavailable
from .provenance import git_commit, machine, sha256_file, versions
from .results import summarize_metric, write_per_image_csv, write_record

__all__ = ["evaluate", "BlurredInput", "blur_extent_px", "build_eval_model", "DEFAULT_METRICS"]

log = get_logger("evaluate")

DEFAULT_METRICS = ("psnr", "ssim", "niqe", "topiq_nr")
GYRO_FIELDS = ("noisy", "clean", "shuffled", "zero")


class BlurredInput(torch.nn.Module):
    """The "model" that returns its input: the blurred-input row of every table."""

    name = "identity"
    uses_gyro = False

    def __init__(self):
        super().__init__()
        self.options: dict = {}

    def forward(self, batch: dict) -> torch.Tensor:
        return batch["blurred"]


def blur_extent_px(cmf: torch.Tensor, height: int, width: int) -> float:
    """Length in full-resolution pixels of the trajectory of the image centre.

    ``cmf`` (2M, hf, wf): channel pair m = (dx, dy) of segment m at grid point (row i, col j) = image pixel
    (2i, 2j). The centre pixel ``(height // 2, width // 2)`` rounded down to even -> grid ``(height // 4,
    width // 4)``. Returns ``sum_m sqrt(dx_m^2 + dy_m^2)``.
    """
    if cmf.ndim != 3 or cmf.shape[0] % 2:
        raise GyrobenchError(f"blur_extent_px: expected a (2M, h, w) field, got {tuple(cmf.shape)}")
    i = min((height // 2) // 2, cmf.shape[1] - 1)
    j = min((width // 2) // 2, cmf.shape[2] - 1)
    seg = cmf[:, i, j].to(torch.float64).reshape(-1, 2)
    return float(torch.linalg.vector_norm(seg, dim=1).sum())


def build_eval_model(checkpoint: str | Path | None, *, model: str | None = None, official: str | None = None,
                     model_options: dict | None = None, device: str = "cpu"):
    """``(model in eval mode, info dict)`` from a checkpoint, an official file or a non-learned name."""
    opts = dict(model_options or {})
    info: dict = {"checkpoint": None, "checkpoint_sha256": None, "train": None, "source": None}
    if official:
        if checkpoint is None:
            raise GyrobenchError(f"--official {official} needs --checkpoint PATH (the official weights file)")
        from .models import load_official

        net = load_official(official, checkpoint, **opts)
        info.update(source="official", checkpoint=str(checkpoint), checkpoint_sha256=sha256_file(checkpoint))
    elif checkpoint is not None:
        if model and model != "identity":
            log.info("--model %s ignored: the checkpoint names its model", model)
        from .train.checkpoint import model_from_checkpoint

        net, ckpt = model_from_checkpoint(checkpoint, map_location=device)
        train = {"step": ckpt.get("step"), "git_commit": ckpt.get("git_commit")}
        if isinstance(ckpt.get("data"), dict):  # the training data's manifest/recipe hashes
            train["data"] = ckpt["data"]
        cfg = ckpt.get("config")
        if isinstance(cfg, dict):
            train["config"] = cfg
        info.update(source="checkpoint", checkpoint=str(checkpoint), checkpoint_sha256=sha256_file(checkpoint),
                    train=train)
    elif model == "identity":
        net = BlurredInput()
        info.update(source="identity")
    elif model:
        from .models import build
        from .models import info as model_info

        meta = model_info(model)
        if meta.learned:
            raise GyrobenchError(f"model '{model}' is learned: give --checkpoint PATH (a gyrobench checkpoint, or "
                                 f"an official file with --official {model})")
        net = build(model, **opts)
        info.update(source="non-learned")
    else:
        raise GyrobenchError("nothing to evaluate: give --checkpoint PATH, or --model classical|identity")
    net = net.to(device).eval()
    return net, info


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "sample"


def _save_png(path: Path, chw: torch.Tensor, *, linear16: bool) -> None:
    """(3, H, W) linear [0, 1] -> PNG: 8-bit sRGB (display) or 16-bit linear."""
    import cv2

    from .color import linear_to_srgb

    x = chw.detach().to("cpu", torch.float64).clamp(0, 1)
    if linear16:
        arr = torch.round(x * 65535).to(torch.int32).numpy().astype(np.uint16)
    else:
        arr = torch.round(linear_to_srgb(x).to(torch.float64).clamp(0, 1) * 255).to(torch.uint8).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(arr.transpose(1, 2, 0)[:, :, ::-1])):
        raise GyrobenchError(f"{path}: cannot write PNG; check the output folder")


def _centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s_h, s_w = min(size, h), min(size, w)
    y0, x0 = (h - s_h) // 2, (w - s_w) // 2
    return x[..., y0 : y0 + s_h, x0 : x0 + s_w]


def _field_options(net, info: dict) -> dict:
    """``camera_motion_field`` options the model was trained with: the checkpoint config's
    ``data.cmf_options`` plus the model's ``M`` (segments; GyroDeblurNet) where it has one."""
    opts: dict = {}
    cfg = (info.get("train") or {}).get("config")
    if isinstance(cfg, dict) and isinstance(cfg.get("data"), dict):
        extra = cfg["data"].get("cmf_options") or {}
        if not isinstance(extra, dict):
            raise GyrobenchError(f"{info['checkpoint']}: field 'config.data.cmf_options' is "
                                 f"{type(extra).__name__}, expected a mapping; re-save the checkpoint")
        opts.update(extra)
    M = getattr(net, "M", None)
    if isinstance(M, int) and not isinstance(M, bool):
        opts["M"] = M
    return opts


def _shuffled_field(ds, idx: int, n: int, own: torch.Tensor) -> torch.Tensor:
    """The noisy field of sample ``(idx + 1) mod n`` shaped like ``own`` (1, 2M, h, w): a wrong but real field."""
    if n < 2:
        raise GyrobenchError("gyro_field='shuffled' needs at least 2 test images (each gets another's field)")
    other = ds[(idx + 1) % n]["cmf_noisy"][None]
    if other.shape != own.shape:
        raise GyrobenchError(f"gyro_field='shuffled': fields of samples {idx} and {(idx + 1) % n} differ in shape "
                             f"({tuple(own.shape)} vs {tuple(other.shape)}); use a split of equal-sized images")
    return other.to(own.dtype)


def _manifest_dir(data_dir: str | Path, split: str | None) -> Path:
    """Folder of the manifest ``ShardDataset(data_dir, split)`` reads (``<root>/<split>/`` if it has one)."""
    root = Path(data_dir)
    return root / split if split is not None and (root / split / "manifest.json").is_file() else root


def _stored_fields_match(manifest: dict, cmf_options: dict) -> bool:
    """Whether fields stored by the recipe (M = ``storage.cmf_segments``, other options at their defaults)
    equal the fields ``cmf_options`` asks for; if not, the loader must recompute them from the gyro."""
    import inspect

    import yaml

    from .gyro.cmf import camera_motion_field

    try:
        recipe = yaml.safe_load(manifest.get("recipe") or "") or {}
        M = int(((recipe.get("storage") or {}) if isinstance(recipe, dict) else {}).get("cmf_segments", 8))
    except (yaml.YAMLError, TypeError, ValueError, AttributeError):
        M = 8
    defaults = {k: p.default for k, p in inspect.signature(camera_motion_field).parameters.items()
                if p.default is not inspect.Parameter.empty}
    for key, value in cmf_options.items():
        want = M if key == "M" else defaults.get(key, object())
        if value != want:
            return False
    return True


def evaluate(checkpoint_path: str | Path | None, data_dir: str | Path, *,
             protocol: str = "gyrodeblurnet_official", out_dir: str | Path,
             save_images: bool = False, limit: int | None = None, device: str = "cpu",
             metrics=DEFAULT_METRICS, model: str | None = None, official: str | None = None,
             model_options: dict | None = None, label: str | None = None, split: str | None = "test",
             gyro_field: str = "noisy", ci: str = "t", seed: int = 0, n_crops: int = 3, crop_size: int = 128,
             metric_options: dict | None = None, command: str | None = None, verify: bool = True) -> Path:
    """Evaluate one model on ``data_dir``'s ``split``; returns the path of ``out_dir/results.json``.

    ``metric_options``: per-metric keyword arguments, e.g. ``{"topiq_nr": {"weights": "path"}}``.
    ``ci``: ``"t"`` or ``"bootstrap"`` (see :mod:`gyrobench.results`). Other arguments: see the module doc.
    """
    from .data.dataset import ShardDataset, collate
    from .data.manifest import read_manifest

    if gyro_field not in GYRO_FIELDS:
        raise GyrobenchError(f"gyro_field={gyro_field!r}: use 'noisy' (official test protocol), 'clean', "
                             "'shuffled' or 'zero'")
    device = str(resolve_device(device))
    out_dir = Path(out_dir)
    proto = get_protocol(protocol)
    net, info = build_eval_model(checkpoint_path, model=model, official=official, model_options=model_options,
                                 device=device)
    name = getattr(net, "name", model or official or "model")
    options = dict(getattr(net, "options", {}) or {})
    label = label or (name if info["checkpoint"] is None else f"{name} ({Path(info['checkpoint']).stem})")

    cmf_options = _field_options(net, info)
    stored = not cmf_options or _stored_fields_match(read_manifest(_manifest_dir(data_dir, split)), cmf_options)
    if cmf_options:
        log.info("eval %s: motion fields with %s (%s)", label, cmf_options,
                 "stored fields" if stored else "recomputed from the gyro")
    ds = ShardDataset(data_dir, split=split, crop=None, verify=verify, fields=True, cmf_options=cmf_options,
                      stored_fields=stored)
    n = len(ds) if limit is None else min(len(ds), int(limit))
    if n == 0:
        raise GyrobenchError(f"{data_dir}: split {split!r} has no samples to evaluate")

    # metrics: construct all; unavailable ones are recorded with their reason, never as numbers
    metric_options = dict(metric_options or {})
    mets, unavailable = {}, {}
    for mname in metrics:
        m = create_metric(mname, protocol=proto, device=device, **metric_options.get(mname, {}))
        if not m.available:
            unavailable[mname] = m.unavailable_reason
            log.info("metric %s unavailable: %s", mname, m.unavailable_reason)
        else:
            mets[mname] = m

    crop_at = set(np.unique(np.linspace(0, n - 1, num=min(n_crops, n)).round().astype(int)).tolist()) \
        if n_crops > 0 else set()
    rows, crops, per_metric = [], [], {k: [] for k in mets}
    has_sharp = True
    t_total = 0.0
    for idx in progress(range(n), desc=f"eval {label}"):
        sample = ds[idx]
        batch = collate([sample])
        sid = batch["meta"]["sample_id"][0]
        if gyro_field == "shuffled":
            batch["cmf_noisy"] = _shuffled_field(ds, idx, n, batch["cmf_noisy"])
        elif gyro_field == "zero":
            batch["cmf_noisy"] = torch.zeros_like(batch["cmf_noisy"])
        if gyro_field == "clean":
            batch["cmf_noisy"] = batch["cmf_clean"]
        else:
            batch["cmf_clean"] = batch["cmf_noisy"]
        batch["alpha"] = 1.0
        for k, v in list(batch.items()):
            if torch.is_tensor(v):
                batch[k] = v.to(device)
        h, w = batch["blurred"].shape[-2:]
        t0 = time.perf_counter()
        with torch.no_grad():
            restored = net(batch)
        if restored.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        t_total += dt
        if restored.shape != batch["blurred"].shape:
            raise GyrobenchError(f"model '{name}' returned {tuple(restored.shape)} for input "
                                 f"{tuple(batch['blurred'].shape)}; models must crop their padding away")
        restored = restored.float().clamp(0, 1)
        sharp = batch.get("sharp")
        row = {"sample_id": sid}
        for mname, m in list(mets.items()):
            if m.full_reference and sharp is None:
                has_sharp = False
                continue
            try:
                val = float(m(restored, sharp)[0] if m.full_reference else m(restored)[0])
            except (MetricUnavailable, ShapeError) as exc:
                # e.g. NIQE on images smaller than two 96-px blocks: the metric is dropped for the whole run
                # (a mean over a subset of images would not be comparable), with the reason recorded
                unavailable[mname] = f"{exc} (sample {sid})"
                log.warning("metric %s dropped: %s", mname, unavailable[mname])
                del mets[mname], per_metric[mname]
                for r in rows:
                    r.pop(mname, None)
                continue
            row[mname] = val
            per_metric[mname].append(val)
        row["blur_extent_px"] = blur_extent_px(sample["cmf_clean"], h, w)
        row.update(inference_s=dt, height=int(h), width=int(w))
        rows.append(row)
        if idx in crop_at:
            stem = _slug(sid)
            entry = {"sample_id": sid}
            for key, img in (("blurred", batch["blurred"][0]), ("restored", restored[0]),
                             ("sharp", sharp[0] if sharp is not None else None)):
                if img is None:
                    entry[key] = None
                    continue
                rel = Path("crops") / f"{stem}_{key}.png"
                _save_png(out_dir / rel, _centre_crop(img, crop_size), linear16=False)
                entry[key] = rel.as_posix()
            crops.append(entry)
        if save_images:
            _save_png(out_dir / "restored" / f"{_slug(sid)}.png", restored[0], linear16=True)

    if not has_sharp:
        for mname, m in mets.items():
            if m.full_reference:
                unavailable[mname] = "the dataset has no ground truth ('sharp') for this split"
    summaries = {}
    for mname, vals in per_metric.items():
        m = mets[mname]
        if mname in unavailable:
            continue
        if not any(np.isfinite(vals)):
            unavailable[mname] = "no finite per-image value (e.g. PSNR of pixel-identical images is +inf)"
            continue
        summaries[mname] = summarize_metric(vals, lower_better=m.lower_better, full_reference=m.full_reference,
                                            method=ci, seed=seed, citation=m.citation)

    names = [k for k in mets if k not in unavailable]
    csv_path = write_per_image_csv(rows, out_dir / "per_image.csv", names)
    manifest_file = Path(ds.data_dir) / "manifest.json"
    manifest = read_manifest(ds.data_dir)
    extents = np.array([r["blur_extent_px"] for r in rows])
    metric_extra = {k: {kk: vv for kk, vv in v.items() if isinstance(vv, str | int | float | bool)}
                    for k, v in metric_options.items()}
    if "niqe" in mets:
        metric_extra.setdefault("niqe", {})["compat"] = mets["niqe"].compat
    record = {
        "model": name,
        "label": label,
        "options": options,
        "uses_gyro": bool(getattr(net, "uses_gyro", False)),
        "model_source": info["source"],
        "checkpoint": info["checkpoint"],
        "checkpoint_sha256": info["checkpoint_sha256"],
        "dataset": str(data_dir),
        "dataset_manifest_sha256": sha256_file(manifest_file),
        "recipe_sha256": manifest.get("recipe_sha256"),
        "split": split,
        "protocol": proto.name,
        "protocol_options": {**proto.to_dict(), "gyro_field": gyro_field, "alpha": 1.0,
                             "metric_options": metric_extra, "batch_size": 1, "resolution": "full"},
        "metrics": summaries,
        "unavailable": unavailable,
        "per_image_csv": csv_path.relative_to(out_dir).as_posix(),
        "crops": crops,
        "n_images": len(rows),
        "blur_extent_px": {"mean": float(extents.mean()), "median": float(np.median(extents)),
                           "max": float(extents.max())},
        "timing": {"inference_s_mean": t_total / len(rows), "device": str(device),
                   "note": "model call only, batch 1, full resolution"},
        "command": command or " ".join(shlex.quote(a) for a in ["gyrobench", *sys.argv[1:]]),
        "versions": versions(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git_commit": git_commit(),
    }
    from .models.dcn import dcn_backends

    if isinstance(net, torch.nn.Module) and dcn_backends(net):
        record["dcn_backend"] = dcn_backends(net)  # the deformable-conv implementation that actually ran
    if info["train"] is not None:
        record["train"] = info["train"]
    path = write_record(out_dir / "results.json", record)
    means = ", ".join(f"{k} {v['mean']:.4f}" for k, v in summaries.items())
    log.info("eval %s: %d images, %s -> %s", label, len(rows), means or "no metric", path)
    return path
