"""Batched GPU synthesis (issue 11 item 2): full-HD images/s of the render stage and of render + degradation.

Frames: the Kodak stand-ins at 1920x1080 (decoded to linear once on the host, uploaded once); poses: the
bench_synth recipe's (fitted hand-shake windows, 4KRD intrinsics, adaptive sub-steps), several images per call
(:func:`gyrobench.synth.render_gpu.render_blur_batch`, pose lists padded with weight-0 identities; batches are
formed from pose-count-sorted images so the padding stays small); degradation ``gyrodeblurnet_official`` on the
device with one draw per sample (:func:`~gyrobench.synth.render_gpu.degrade_batch`). Timed after a warm-up
batch, synchronised, best of ``--repeats``. Target on one H100-class GPU: >= 100 full-HD images/s (render).

    python benchmarks/bench_synth_gpu.py [--device cuda] [--images 32] [--batch 8]

Without a GPU it runs the same code on ``--device cpu`` (a code-path check, not a GPU figure) and says so.
Writes ``benchmarks/results/bench_synth_gpu.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from _report import save_report  # noqa: E402  (benchmarks/ is the script's folder)
from bench_synth import bench_recipe, fullhd_pngs

from gyrobench.builder.pipeline import _context, sample_poses
from gyrobench.builder.recipe import load_recipe
from gyrobench.provenance import machine, versions
from gyrobench.synth.degrade import Degradation
from gyrobench.synth.render_gpu import degrade_batch, render_blur_batch

OUT = Path(__file__).resolve().parent / "results"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--images", type=int, default=32, help="distinct frames (Kodak has 24; reused beyond)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    n_src = min(args.images, 24)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        imgs = fullhd_pngs(n_src, tmp / "img")
        (tmp / "r.yaml").write_text(yaml.safe_dump(bench_recipe(imgs, args.images)))
        recipe = load_recipe(tmp / "r.yaml")
        split, crop = recipe.splits[0], recipe.camera.crop_box()
        ctx = _context(recipe, "gpu")
        paths = ctx.images[split.name]
        frames = [torch.from_numpy(np.ascontiguousarray(ctx.image(p).transpose(2, 0, 1))) for p in paths]
    homs = [sample_poses(recipe, split, i, "gpu")[3] for i in range(args.images)]
    order = np.argsort([len(h) for h in homs], kind="stable")  # similar pose counts share a batch
    batches = [order[i:i + args.batch] for i in range(0, args.images, args.batch)]
    dev_frames = torch.stack(frames).to(dev)  # frames uploaded once (B_src, 3, 1080, 1920)
    deg = Degradation("gyrodeblurnet_official").to(dev)

    def run(with_degrade: bool):
        for b in batches:
            x = dev_frames[torch.as_tensor([i % n_src for i in b], device=dev)]
            r = render_blur_batch(x, [homs[i] for i in b], crop=crop, sat_threshold=1.0)
            if with_degrade:
                degrade_batch(deg, r["blurred"], r["sat_mask"], [int(i) for i in b])
        sync()

    run(True)  # warm-up (allocator, kernels)
    res = {}
    for name, wd in (("render", False), ("render+degrade", True)):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run(wd)
            best = min(best, time.perf_counter() - t0)
        res[name] = {"s": best, "images_per_s": args.images / best}
    poses = [len(h) for h in homs]
    padded = sum(len(b) * max(poses[i] for i in b) for b in batches)
    result = {"benchmark": "bench_synth_gpu", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "device": str(dev), "gpu": gpu or "none found (no GPU lent): code path run on the CPU",
              "images": args.images, "batch": args.batch, "poses_mean": float(np.mean(poses)),
              "padding_overhead": padded / sum(poses) - 1, "results": res, "target_render_images_per_s": 100,
              "machine": machine(), "versions": versions()}
    lines = [f"# bench_synth_gpu ({result['date']}; device {dev}; GPU: {result['gpu']})", "",
             f"{args.images} full-HD frames (1920x1080 -> 1280x720), batches of {args.batch}, mean "
             f"{result['poses_mean']:.0f} poses, padding overhead {100 * result['padding_overhead']:.1f} %", "",
             "| stage | s | full-HD images / s |", "|---|---|---|"]
    lines += [f"| {k} | {v['s']:.3f} | {v['images_per_s']:.2f} |" for k, v in res.items()]
    if gpu is None:
        lines += ["", "No GPU lent: these are CPU figures of the GPU code path (correctness check only); the GPU "
                  "target (>= 100 images/s on an H100-class GPU) is unmeasured."]
    text = "\n".join(lines) + "\n"
    tag = "" if dev.type == "cuda" else "_cpu_codepath"
    save_report(args.out, f"bench_synth_gpu{tag}", result, text)
    return result


if __name__ == "__main__":
    main()
