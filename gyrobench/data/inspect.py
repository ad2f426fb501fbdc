"""``gyrobench inspect``: summarize and verify a dataset folder or a single shard; contact sheets (issue 4 item 8).

:func:`summarize` returns a JSON-able dict (splits, samples, per-field shape/dtype/attributes, file attributes,
blur-extent statistics, verification result); :func:`format_summary` renders it as a plain-text table;
:func:`contact_sheet` writes a PNG with one row per sample: sharp | blurred | motion-field picture (sRGB display
encoding of the linear images; the field drawn with ``gyrobench.viz.cmf_plot.render_cmf`` over the blurred image).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..color import linear_to_srgb
from ..errors import GyrobenchError, ShardError
from ..gyro.cmf import camera_motion_field
from ..gyro.rolling_shutter import window_field
from ..viz.cmf_plot import render_cmf
from .manifest import MANIFEST, read_manifest
from .shards import read_sample, read_shard_attrs, verify_dataset, verify_shard

__all__ = ["summarize", "format_summary", "contact_sheet"]


def _shard_list(path: Path) -> tuple[Path, dict | None, list[Path]]:
    if path.is_file() and path.suffix == ".h5":
        return path.parent, None, [path]
    root = path.parent if path.name == MANIFEST else path
    if not root.is_dir():
        raise ShardError(f"{path}: not found; give a dataset folder (with manifest.json) or a shard .h5 file")
    man = read_manifest(root)
    return root, man, [root / e["file"] for e in man["shards"]]


def _field_table(shard: Path) -> dict[str, dict[str, Any]]:
    import h5py

    out = {}
    with h5py.File(shard, "r") as f:
        for k, ds in f.items():
            out[k] = {"shape": list(ds.shape[1:]), "dtype": str(ds.dtype),
                      "compression": ds.compression or "", **{a: str(v) for a, v in ds.attrs.items()}}
    return out


def summarize(path: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Summary of a dataset folder (or one shard). ``verify`` checks sha256/structure against the manifest;
    the result is reported in ``verification`` (``"ok"`` or the error message), never raised."""
    import h5py

    path = Path(path)
    root, man, shards = _shard_list(path)
    summary: dict[str, Any] = {"path": str(path), "shards": len(shards)}
    if man is not None:
        summary.update(name=man.get("name"), recipe_sha256=man.get("recipe_sha256"), seed=man.get("seed"),
                       limit=man.get("limit"), image=man.get("image"), manifest_splits=man.get("splits"),
                       versions=man.get("versions"))
    if verify:
        try:
            if man is not None:
                res = verify_dataset(root)
                summary["verification"] = f"ok ({res['shards']} shards, sha256 and structure match the manifest)"
            else:
                verify_shard(shards[0], decode=True)
                summary["verification"] = "ok (single shard: structure and decoding; no manifest to compare)"
        except GyrobenchError as exc:
            summary["verification"] = f"FAILED: {exc}"
    splits: dict[str, dict[str, Any]] = {}
    extents: dict[str, list[np.ndarray]] = {}
    readable = [s for s in shards if s.is_file()]
    for s in readable:
        try:
            attrs = read_shard_attrs(s)
            with h5py.File(s, "r") as f:
                n = int(attrs.get("samples", 0))
                sp = str(attrs.get("split", "?"))
                d = splits.setdefault(sp, {"samples": 0, "shards": 0, "degradation": attrs.get("degradation", "")})
                d["samples"] += n
                d["shards"] += 1
                if "blur_extent_px" in f:
                    extents.setdefault(sp, []).append(np.asarray(f["blur_extent_px"][...], dtype=np.float64))
        except (ShardError, OSError):
            continue
    for sp, parts in extents.items():
        e = np.concatenate(parts)
        splits[sp]["blur_extent_px"] = {"min": float(e.min()), "p50": float(np.median(e)),
                                        "p95": float(np.percentile(e, 95)), "max": float(e.max()),
                                        "mean": float(e.mean())}
    summary["splits"] = splits
    summary["samples"] = sum(d["samples"] for d in splits.values())
    if readable:
        try:
            summary["fields"] = _field_table(readable[0])
            attrs = read_shard_attrs(readable[0])
            summary["attributes"] = {k: v for k, v in attrs.items() if k not in ("recipe", "versions")}
        except (ShardError, OSError) as exc:
            summary["fields"] = {}
            summary["attributes"] = {"error": str(exc)}
    return summary


def format_summary(s: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`summarize` (what ``gyrobench inspect`` prints)."""
    lines = [f"dataset   {s['path']}"]
    for key in ("name", "recipe_sha256", "seed", "limit"):
        if s.get(key) is not None:
            lines.append(f"{key:<9} {s[key]}")
    if s.get("image"):
        lines.append("image     " + ", ".join(f"{k}={v}" for k, v in s["image"].items()))
    lines.append(f"samples   {s['samples']} in {s['shards']} shards")
    if "verification" in s:
        lines.append(f"verify    {s['verification']}")
    lines.append("")
    lines.append(f"{'split':<10}{'samples':>8}{'shards':>7}  {'degradation':<32}{'blur extent px p50 / p95 / max':>32}")
    for name, d in s.get("splits", {}).items():
        e = d.get("blur_extent_px")
        ext = f"{e['p50']:.1f} / {e['p95']:.1f} / {e['max']:.1f}" if e else "-"
        lines.append(f"{name:<10}{d['samples']:>8}{d['shards']:>7}  {str(d['degradation']):<32}{ext:>32}")
    if s.get("fields"):
        lines.append("")
        lines.append(f"{'field':<20}{'shape/sample':<14}{'dtype':<9}{'compr.':<7} units / meaning")
        for k, f in s["fields"].items():
            shape = "x".join(str(v) for v in f["shape"]) or "scalar"
            info = "; ".join(x for x in (f.get("units", ""), f.get("meaning", "")) if x)
            lines.append(f"{k:<20}{shape:<14}{f['dtype']:<9}{f['compression']:<7} {info}")
    if s.get("attributes"):
        lines.append("")
        lines.append("attributes (first shard):")
        for k, v in s["attributes"].items():
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def _to_display(x: np.ndarray) -> np.ndarray:
    """Linear float [0,1] HWC -> sRGB uint8 for viewing."""
    y = linear_to_srgb(np.clip(np.asarray(x, dtype=np.float64), 0, 1))
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)


def _field_for(sample: dict[str, Any]) -> np.ndarray:
    if "cmf_clean" in sample:
        return np.asarray(sample["cmf_clean"], dtype=np.float64)
    R = np.asarray(sample.get("R_imu_to_cam", np.eye(3)))
    w = np.asarray(sample["gyro_w"]) @ R.T
    crop = tuple(int(v) for v in sample["crop"])
    readout = float(sample.get("readout_time_s", 0.0))
    if readout > 0:  # rolling shutter: per row, the field of the row's own exposure window
        return window_field(sample["gyro_t_ns"], w, sample["K"], int(sample["exposure_ns"]), crop=crop,
                            readout_time_s=readout, frame_height=int(np.asarray(sample["frame_size"])[1]),
                            layout="hwc", dtype=np.float64)
    return camera_motion_field(sample["gyro_t_ns"], w, sample["K"], crop=crop, layout="hwc", dtype=np.float64)


def contact_sheet(path: str | Path, out_png: str | Path, *, n: int = 6, tile: int = 256,
                  split: str | None = None) -> Path:
    """Write a PNG: one row per sample (first ``n``, optionally of one ``split``): sharp | blurred | field.

    Tiles are resized to ``tile`` px height. Images are shown sRGB-encoded (display only); on small crops the
    field's displacements are magnified (factor printed in the tile) so the glyphs are visible."""
    import cv2

    path = Path(path)
    root, man, shards = _shard_list(path)
    refs = []
    for s in shards:
        attrs = read_shard_attrs(s)
        if split is not None and attrs.get("split") != split:
            continue
        refs += [(s, i) for i in range(int(attrs.get("samples", 0)))]
        if len(refs) >= n:
            break
    if not refs:
        raise ShardError(f"{path}: no samples{' in split ' + split if split else ''} to draw")
    rows = []
    for shard, i in refs[:n]:
        smp = read_sample(shard, i)
        sharp, blurred = _to_display(smp["sharp"]), _to_display(smp["blurred"])
        tiles = [sharp, blurred]
        h, w = sharp.shape[:2]
        field = _field_for(smp)
        ext = float(smp.get("blur_extent_px", 0.0))
        mag = max(1.0, round(0.15 * min(h, w) / max(ext, 1e-3)))  # make glyphs visible on small crops
        pic = render_cmf(field, blurred, scale=mag)
        cv2.putText(pic, f"x{mag:g}", (4, pic.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 0), 1)
        tiles.append(pic)
        scale = tile / h
        row = [cv2.resize(np.ascontiguousarray(t), (max(1, round(w * scale)), tile),
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST) for t in tiles]
        gap = np.full((tile, 4, 3), 255, np.uint8)
        parts = []
        for t in row:
            parts += [t, gap]
        label = np.hstack(parts[:-1])
        cv2.putText(label, str(smp.get("sample_id", "")), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        rows.append(label)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    sheet = np.vstack(rows)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", sheet[..., ::-1])
    if not ok:
        raise GyrobenchError(f"{out_png}: PNG encoding failed")
    out_png.write_bytes(buf.tobytes())
    return out_png
