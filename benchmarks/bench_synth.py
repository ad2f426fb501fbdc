"""Synthesis speed (issue 11): OpenCV floor vs the renderer, every pipeline stage, end-to-end images/s per thread.

Stand-in data: the shipped Kodak images upscaled (bicubic, sRGB) to 1920x1080 PNGs, since the 4KRD frames are
not shipped. Gyro: the fitted hand-shake generator (11-sample windows). Camera: 4KRD intrinsics (fx = 2139 px),
centre crop 1920x1080 -> 1280x720 (gyrodeblurnet.md §1.1); poses adaptive, <= 1 px between warps, >= 8 sub-steps
per interval (rsblur.md D2); storage as the gyroblur-synth recipe (uint16, 12 bits, the recipe's compression).
All samples go to an ``offline`` split (the degradation is applied and stored: the slower of the two kinds).

One run reports:
  floor      a plain loop of ``cv2.warpPerspective`` (float32, bilinear, replicated border, crop-only output via
             WARP_INVERSE_MAP) summing the sample's poses, then / P: the issue's "OpenCV floor"
  renderer   :func:`gyrobench.synth.render_cpu.render_blur_cpu` on the same frame and poses, with the saturation
             mask and ``valid`` (what the pipeline calls); ``ratio = renderer / floor`` (target <= 1.25)
  old        the torch ``render_blur`` (grid_sample), for reference (``--old 0`` skips it)
  end-to-end ``make_shard`` over all samples (decode, poses, warp, degrade, quantize, write) on one thread,
             with the pipeline's own per-stage timer; images/s per thread (target >= 0.5)

One thread everywhere (torch, OpenCV, OMP). The machine is shared: every timing is repeated ``--repeats`` times
and the best is kept; CPU (process) time is reported next to wall time, and the ratio uses CPU time.

    OMP_NUM_THREADS=1 python benchmarks/bench_synth.py [--images 4] [--repeats 2]

Writes ``benchmarks/results/bench_synth.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from _report import save_report  # noqa: E402  (benchmarks/ is the script's folder)

from gyrobench.builder.pipeline import StageTimer, _context, make_shard, sample_poses, shard_tasks
from gyrobench.builder.recipe import load_recipe
from gyrobench.provenance import machine, versions
from gyrobench.synth.blur import render_blur
from gyrobench.synth.render_cpu import render_blur_cpu

OUT = Path(__file__).resolve().parent / "results"
STAGES = ("decode", "poses", "warp", "degrade", "quantize", "write")


def fullhd_pngs(n: int, folder: Path) -> Path:
    """n Kodak stand-ins upscaled to 1920x1080, written as 8-bit sRGB PNGs into ``folder``."""
    from gyrobench.assets import kodak_paths

    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(kodak_paths()[:n]):
        big = cv2.resize(cv2.imread(str(p)), (1920, 1080), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"fullhd_{i:02d}.png"), big)
    return folder


def bench_recipe(images: Path, n: int, compression: str = "gzip", level: int = 4) -> dict:
    """The benchmark's recipe: gyroblur-synth geometry and storage, Kodak stand-ins, fitted hand-shake gyro."""
    return {
        "name": "bench-synth", "description": "issue 11 benchmark", "seed": 11,
        "sources": {"images": str(images), "gyro": {"kind": "fitted"}},
        "camera": {"width": 1920, "height": 1080, "fx": 2139.03493, "fy": 2133.82853, "cx": 960.0, "cy": 540.0,
                   "crop": [320, 180, 1280, 720], "image_fit": "exact"},
        "exposure": {"samples": 11},
        "substeps": {"min_per_interval": 8, "max_step_px": 1.0},
        "error_model": {},
        "degradation": {"preset": "gyrodeblurnet_official"},
        "splits": [{"name": "test", "size": n, "degradation": "offline"}],
        "storage": {"shard_size": n, "dtype": "uint16", "bits": 12, "store_cmf": "none",
                    "compression": compression, "compression_level": level},
    }


def _best(fn, repeats: int):
    """(result, best wall s, best CPU s) over ``repeats`` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return out, min(walls), min(cpus)


def opencv_floor(frame: np.ndarray, H: np.ndarray, crop) -> np.ndarray:
    """The issue's floor: plain float32 ``cv2.warpPerspective`` loop, crop-only output, summed, then / P."""
    x0, y0, w, h = crop
    T = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]])
    acc = np.zeros((h, w, frame.shape[2]), np.float32)
    for Hk in H:
        acc += cv2.warpPerspective(frame, np.linalg.inv(Hk) @ T, (w, h),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return acc / len(H)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--old", type=int, default=1, help="also time the torch render_blur (1) or not (0)")
    ap.add_argument("--compression", default="gzip")
    ap.add_argument("--level", type=int, default=4)
    ap.add_argument("--note", default="2-core CPU shared with other jobs (best of --repeats runs)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        imgs = fullhd_pngs(args.images, tmp / "img")
        (tmp / "r.yaml").write_text(yaml.safe_dump(bench_recipe(imgs, args.images, args.compression, args.level)))
        recipe = load_recipe(tmp / "r.yaml")
        split = recipe.splits[0]
        crop = recipe.camera.crop_box()
        # ---- floor vs renderer on the pipeline's own frames and poses
        per = []
        ctx = _context(recipe, "bench")
        for i in range(args.images):
            frame = ctx.image(ctx.images[split.name][i])
            _, _, _, H = sample_poses(recipe, split, i, "bench")
            ref, fw, fc = _best(lambda f=frame, H=H: opencv_floor(f, H, crop), args.repeats)
            got, rw, rc = _best(lambda f=frame, H=H: render_blur_cpu(f, H, crop=crop, sat_threshold=1.0),
                                args.repeats)
            _, nw, nc = _best(lambda f=frame, H=H: render_blur_cpu(f, H, crop=crop), args.repeats)
            row = {"poses": int(len(H)), "floor_wall": fw, "floor_cpu": fc, "renderer_wall": rw, "renderer_cpu": rc,
                   "renderer_nosat_cpu": nc, "max_abs_vs_floor": float(np.abs(got["blurred"] - ref).max()),
                   "saturated_fraction": float((frame >= 1 - 1e-6).any(axis=2).mean())}
            if args.old:
                x = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))[None]
                old, ow, oc = _best(lambda x=x, H=H: render_blur(x, torch.from_numpy(H)[None], crop=crop,
                                                                 sat_threshold=1.0), 1)
                hwc = lambda t: t[0].numpy().transpose(1, 2, 0)  # noqa: E731
                row.update(old_wall=ow, old_cpu=oc,
                           max_abs_vs_old=float(np.abs(got["blurred"] - hwc(old["blurred"])).max()),
                           sat_max_abs_vs_old=float(np.abs(got["sat_mask"] - hwc(old["sat_mask"])).max()))
            per.append(row)
            print(f"image {i}: {row}", flush=True)
        # ---- end to end, one thread, the pipeline's per-stage timer
        best = None
        for r in range(args.repeats):
            timer = StageTimer()
            out_dir = tmp / f"e2e{r}"
            out_dir.mkdir()
            _context(recipe, f"e2e{r}")  # list sources outside the timed region (a run does it once)
            w0, c0 = time.perf_counter(), time.process_time()
            entry = None
            for task in shard_tasks(recipe):
                entry = make_shard(recipe, task, out_dir, None, f"e2e{r}", "cpu", "auto", timer)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            if best is None or cpu < best["cpu"]:
                best = {"wall": wall, "cpu": cpu, "stages_wall": dict(timer.wall), "stages_cpu": dict(timer.cpu),
                        "bytes_per_sample": entry["bytes"] / args.images}
    n = args.images
    tot = {k: sum(r[k] for r in per) for k in per[0] if k.endswith(("_cpu", "_wall"))}
    result = {
        "benchmark": "bench_synth", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "note": args.note,
        "threads": 1, "images": n, "repeats": args.repeats, "per_image": per,
        "floor_s_per_image": tot["floor_cpu"] / n,
        "renderer_s_per_image": tot["renderer_cpu"] / n,
        "renderer_nosat_s_per_image": tot["renderer_nosat_cpu"] / n,
        "ratio_renderer_over_floor": tot["renderer_cpu"] / tot["floor_cpu"],
        "ratio_renderer_nosat_over_floor": tot["renderer_nosat_cpu"] / tot["floor_cpu"],
        "old_s_per_image": tot.get("old_cpu", float("nan")) / n,
        "end_to_end": {"s_per_image_cpu": best["cpu"] / n, "s_per_image_wall": best["wall"] / n,
                       "images_per_s_per_thread": n / best["cpu"], "images_per_s_wall": n / best["wall"],
                       "stages_s_per_image_cpu": {k: best["stages_cpu"].get(k, 0.0) / n for k in STAGES},
                       "stages_s_per_image_wall": {k: best["stages_wall"].get(k, 0.0) / n for k in STAGES},
                       "bytes_per_sample": best["bytes_per_sample"],
                       "storage": f"uint16 12 bits, {args.compression} level {args.level} + shuffle"},
        "machine": machine(), "versions": versions(),
    }
    e = result["end_to_end"]
    lines = [
        f"# bench_synth ({result['date']}; 1 thread; {n} full-HD Kodak stand-ins; {args.note})", "",
        "| renderer (1920x1080 -> 1280x720, poses of each sample) | CPU s / image | vs floor |", "|---|---|---|",
        f"| OpenCV floor (float32 warpPerspective loop, image only) | {result['floor_s_per_image']:.3f} | 1.00x |",
        f"| render_blur_cpu (image + saturation mask + valid) | {result['renderer_s_per_image']:.3f} | "
        f"{result['ratio_renderer_over_floor']:.2f}x |",
        f"| render_blur_cpu (image + valid, no mask) | {result['renderer_nosat_s_per_image']:.3f} | "
        f"{result['ratio_renderer_nosat_over_floor']:.2f}x |",
    ]
    if args.old:
        lines.append(f"| torch render_blur (before issue 11) | {result['old_s_per_image']:.3f} | "
                     f"{result['old_s_per_image'] / result['floor_s_per_image']:.2f}x |")
    lines += ["", f"poses per image: {[r['poses'] for r in per]}; saturated pixel fraction: "
              f"{[round(r['saturated_fraction'], 4) for r in per]}",
              f"max |renderer - floor|: {max(r['max_abs_vs_floor'] for r in per):.1e}"
              + (f"; max |renderer - render_blur|: blur {max(r['max_abs_vs_old'] for r in per):.1e}, "
                 f"sat mask {max(r['sat_max_abs_vs_old'] for r in per):.1e}" if args.old else ""), "",
              f"## End to end (make_shard, one thread, {e['storage']})", "",
              "| stage | CPU s / image | wall s / image |", "|---|---|---|"]
    lines += [f"| {k} | {e['stages_s_per_image_cpu'][k]:.3f} | {e['stages_s_per_image_wall'][k]:.3f} |" for k in STAGES]
    lines += [f"| **total** | **{e['s_per_image_cpu']:.3f}** | {e['s_per_image_wall']:.3f} |", "",
              f"end to end: **{e['images_per_s_per_thread']:.2f} full-HD images/s per thread** (CPU time; "
              f"{e['images_per_s_wall']:.2f} by wall clock); {e['bytes_per_sample'] / 1e6:.2f} MB per sample"]
    text = "\n".join(lines) + "\n"
    save_report(args.out, "bench_synth", result, text)
    return result


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
