"""No-reference scoring of a folder of captures (``gyrobench eval --captures DIR``): NIQE and TOPIQ.

Real photos have no ground truth, so only no-reference metrics are computed, on the **display-encoded**
outputs: the restored linear image is encoded to sRGB 8-bit (rounded) and scored, the convention of pyiqa and
of the paper's GyroBlur-Real numbers (``docs/metrics.md``, protocol ``srgb8`` for the no-reference part; the
metrics are created with ``input_space="linear"`` because restorations are linear light). The ``identity``
model scores the photos themselves (the "blurred input" row): a display-encoded photo decoded with the sRGB
curve and encoded again is the same 8-bit image.

The results record (``format: gyrobench-results/1``, written like ``gyrobench eval``'s) names the capture set
by a content fingerprint, ``dataset_manifest_sha256`` = sha256 over the sorted capture names and the sha256 of
their ``capture.json``, photo and gyro files, and sets ``split`` to ``"real captures (no reference)"``, so the
leaderboard ranks such rows in their own group under that heading. Records say whether captures are synthetic.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from ..capture.fields import linear_photo
from ..capture.format import list_captures, load_capture
from ..errors import GyrobenchError, ShapeError
from ..log import get_logger, progress
from ..metrics import create_metric
from ..metrics.registry import MetricUnavailable
from ..models.identity import BlurredInput
from ..provenance import git_commit, machine, sha256_file, versions
from ..results import summarize_metric, write_per_image_csv, write_record
from ..viz.cmf_plot import save_png
from .infer import restore_capture, srgb8
from .models import load_restorer

__all__ = ["evaluate_captures", "captures_fingerprint", "NR_METRICS", "GROUP_SPLIT"]

log = get_logger("eval.captures")

NR_METRICS = ("niqe", "topiq_nr")
GROUP_SPLIT = "real captures (no reference)"


def captures_fingerprint(folders: list[Path]) -> str:
    """sha256 over ``name capture.json-sha256 image-sha256 gyro-sha256`` lines of the sorted captures."""
    lines = []
    for f in sorted(folders, key=lambda p: p.name):
        cap, _ = load_capture(f)
        lines.append(" ".join([f.name, sha256_file(f / "capture.json"), sha256_file(f / cap.image),
                               sha256_file(f / cap.gyro)]))
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def evaluate_captures(root: str | Path, out_dir: str | Path, *, checkpoint: str | Path | None = None,
                      model: str | None = None, model_options: dict | None = None, label: str | None = None,
                      metrics=NR_METRICS, metric_options: dict | None = None, ci: str = "t", seed: int = 0,
                      n_crops: int = 3, crop_size: int = 128, device: str = "cpu",
                      command: str | None = None) -> Path:
    """Restore and score every capture under ``root``; returns ``out_dir/results.json`` (module docstring)."""
    folders = list_captures(root)
    out = Path(out_dir)
    if model == "identity":
        net, info, field_opts = BlurredInput(), {"source": "identity", "checkpoint": None,
                                              "checkpoint_sha256": None}, {}
    else:
        net, info, field_opts = load_restorer(checkpoint, model=model, model_options=model_options, device=device)
    name = getattr(net, "name", model or "model")
    label = label or (name if info["checkpoint"] is None else f"{name} ({Path(info['checkpoint']).stem})")
    bad = [m for m in metrics if m not in NR_METRICS]
    if bad:
        raise GyrobenchError(f"captures have no reference image: metrics {bad} cannot be computed; use "
                             f"{', '.join(NR_METRICS)}")
    mets, unavailable = {}, {}
    for m in metrics:
        metric = create_metric(m, input_space="linear", device=device, **(metric_options or {}).get(m, {}))
        if metric.available:
            mets[m] = metric
        else:
            unavailable[m] = metric.unavailable_reason
    rows, crops, synthetic = [], [], []
    crop_at = set(np.unique(np.linspace(0, len(folders) - 1, num=min(n_crops, len(folders))).round().astype(int))
                  .tolist()) if n_crops > 0 else set()
    t_total = 0.0
    for i, folder in enumerate(progress(folders, desc=f"eval captures {label}")):
        cap, f = load_capture(folder)
        synthetic.append(bool(cap.source.get("synthetic", False)))
        restored, field, decoding, dt = restore_capture(net, cap, f, field_options=field_opts, device=device)
        t_total += dt
        x = torch.from_numpy(np.ascontiguousarray(restored)).permute(2, 0, 1)[None]
        row = {"sample_id": cap.name}
        for m, metric in list(mets.items()):
            try:
                row[m] = float(metric(x)[0])
            except (MetricUnavailable, ShapeError) as exc:  # dropped for the whole run, reason recorded
                unavailable[m] = f"{exc} (capture {cap.name})"
                del mets[m]
                for r in rows:
                    r.pop(m, None)
        ci_, cj = min(cap.height // 4, field.shape[1] - 1), min(cap.width // 4, field.shape[2] - 1)
        row["blur_extent_px"] = float(np.linalg.norm(field[:, ci_, cj].reshape(-1, 2), axis=1).sum())
        row.update(inference_s=dt, height=cap.height, width=cap.width, image_encoding=cap.image_encoding,
                   synthetic=synthetic[-1])
        rows.append(row)
        if i in crop_at:
            lin, _ = linear_photo(cap, f)
            entry = {"sample_id": cap.name, "sharp": None}
            for key, img in (("blurred", lin), ("restored", restored)):
                h, w = img.shape[:2]
                s_h, s_w = min(crop_size, h), min(crop_size, w)
                y0, x0 = (h - s_h) // 2, (w - s_w) // 2
                rel = Path("crops") / f"{cap.name}_{key}.png"
                save_png(out / rel, srgb8(img[y0:y0 + s_h, x0:x0 + s_w]))
                entry[key] = rel.as_posix()
            crops.append(entry)
    summaries = {m: summarize_metric([r[m] for r in rows], lower_better=mets[m].lower_better, full_reference=False,
                                     method=ci, seed=seed, citation=mets[m].citation)
                 for m in mets if m not in unavailable}
    csv_path = write_per_image_csv(rows, out / "per_image.csv", list(summaries))
    n_syn = sum(synthetic)
    fingerprint = captures_fingerprint(folders)
    record = {
        "model": name, "label": label, "options": dict(getattr(net, "options", {}) or {}),
        "uses_gyro": bool(getattr(net, "uses_gyro", False)), "model_source": info["source"],
        "checkpoint": info["checkpoint"], "checkpoint_sha256": info["checkpoint_sha256"],
        "dataset": str(root), "dataset_manifest_sha256": fingerprint, "dataset_fingerprint": fingerprint, "recipe_sha256": None,
        "split": GROUP_SPLIT, "protocol": "srgb8",
        "protocol_options": {"dataset_kind": "captures",
                             "captures": {"n": len(folders), "synthetic": n_syn,
                                          "note": ("SYNTHETIC captures (made by gyrobench capture synth)"
                                                   if n_syn == len(folders) else
                                                   f"{n_syn} of {len(folders)} captures are synthetic")},
                             "no_reference": True, "nr_transfer": "srgb", "nr_quantize": "round",
                             "input": "restored linear image encoded to display sRGB 8-bit (rounded)",
                             "gyro_field": "capture", "field": "camera motion field of each capture (rolling "
                                                              "shutter, time offset from capture.json)",
                             "batch_size": 1, "resolution": "full"},
        "metrics": summaries, "unavailable": unavailable,
        "per_image_csv": csv_path.relative_to(out).as_posix(), "crops": crops, "n_images": len(rows),
        "blur_extent_px": {"mean": float(np.mean([r["blur_extent_px"] for r in rows])),
                           "median": float(np.median([r["blur_extent_px"] for r in rows])),
                           "max": float(np.max([r["blur_extent_px"] for r in rows]))},
        "timing": {"inference_s_mean": t_total / len(rows), "device": str(device),
                   "note": "model call only, batch 1, full resolution"},
        "command": command or " ".join(shlex.quote(a) for a in ["gyrobench", *sys.argv[1:]]),
        "versions": versions(), "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(), "git_commit": git_commit(),
    }
    path = write_record(out / "results.json", record)
    means = ", ".join(f"{k} {v['mean']:.4f}" for k, v in summaries.items())
    log.info("eval captures %s: %d captures (%d synthetic), %s -> %s", label, len(rows), n_syn, means or "no metric",
             path)
    return path
