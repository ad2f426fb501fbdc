"""End-to-end synthesis throughput per stage, full-HD stand-ins (issue 4 "Done when": benchmark).

Stages, per image (1920x1080 full frame -> 1280x720 crop, GyroBlur-Synth geometry, 4KRD intrinsics):
  decode   read an 8-bit sRGB PNG and convert to linear float32 (gyrobench.builder.sources.load_linear_image)
  poses    fitted hand-shake window (11 samples) -> adaptive sub-steps (<= 1 px/warp, >= 8) -> homographies
  warp     render_blur: average of all warps in linear light + saturation mask (gyrobench.synth.blur.render_blur)
  degrade  the offline degradation preset on the 1280x720 blur (gyrobench.synth.degrade.Degradation)
  write    quantise (uint16, 16 and 12 significant bits) + gzip shard write, bytes per sample reported

Stand-ins: the packaged Kodak images upscaled (bicubic, sRGB) to 1920x1080, since the 4KRD frames are not here.

    OMP_NUM_THREADS=1 python benchmarks/bench_pipeline.py --images 4 --threads 1 [--device cuda]

Prints a table and writes benchmarks/results/bench_pipeline.{json,md}. Times are wall-clock medians per image.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from _report import save_report  # noqa: E402  (benchmarks/ is the script's folder)

from gyrobench.assets import kodak_paths
from gyrobench.builder.sources import load_linear_image
from gyrobench.data.shards import ShardWriter, quantize
from gyrobench.gyro.handshake import load_default_handshake
from gyrobench.gyro.trajectory import pose_homographies, substeps_for_max_step
from gyrobench.provenance import machine, versions
from gyrobench.synth.blur import render_blur
from gyrobench.synth.degrade import Degradation

K = np.array([[2139.03493, 0, 960.0], [0, 2133.82853, 540.0], [0, 0, 1]])
CROP = (320, 180, 1280, 720)
OUT = Path(__file__).resolve().parent / "results"


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--preset", default="gyrodeblurnet_official")
    ap.add_argument("--note", default="2-core CPU shared with other jobs")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    hs = load_default_handshake()
    deg = Degradation(args.preset).to(dev)
    variants = (("write16", None, True), ("write12", 12, True), ("write16_clean", None, False),
                ("write12_clean", 12, False))
    times: dict[str, list[float]] = {k: [] for k in ("decode", "poses", "warp", "degrade", *[v[0] for v in variants])}
    sizes: dict[str, list[int]] = {v[0]: [] for v in variants}
    poses = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        srcs = []
        for i, p in enumerate(kodak_paths()[: args.images]):
            img = cv2.imread(str(p))
            big = cv2.resize(img, (1920, 1080), interpolation=cv2.INTER_CUBIC)
            q = tmp / f"fullhd_{i:02d}.png"
            cv2.imwrite(str(q), big)
            srcs.append(q)
        for i, src in enumerate(srcs):
            t0 = time.perf_counter()
            frame = load_linear_image(src, (1920, 1080), (1280, 720), "exact")
            t1 = time.perf_counter()
            rec = hs.sample(11, seed=i)
            n_sub = substeps_for_max_step(rec.t_ns, rec.w, K, (1080, 1920), max_step_px=1.0, min_substeps=8,
                                          max_substeps=128)
            H, _ = pose_homographies(rec.t_ns, rec.w, K, substeps=n_sub, anchor="mid")
            t2 = time.perf_counter()
            x = torch.from_numpy(frame.transpose(2, 0, 1).copy())[None].to(dev)
            _sync(dev)
            t2b = time.perf_counter()
            out = render_blur(x, torch.from_numpy(H)[None].to(dev), crop=CROP, sat_threshold=1.0)
            _sync(dev)
            t3 = time.perf_counter()
            gen = torch.Generator(device=dev).manual_seed(i)
            with torch.no_grad():
                degraded, _draw = deg(out["blurred"], sat_mask=out["sat_mask"], generator=gen)
            _sync(dev)
            t4 = time.perf_counter()
            sharp = out["sharp"][0].cpu().numpy().transpose(1, 2, 0)
            noisy = degraded[0].cpu().numpy().transpose(1, 2, 0)
            clean = out["blurred"][0].cpu().numpy().transpose(1, 2, 0)
            mask = out["sat_mask"][0].cpu().numpy().transpose(1, 2, 0)
            for key, bits, is_noisy in variants:
                blur = noisy if is_noisy else clean
                tw = time.perf_counter()
                path = tmp / f"{key}_{i}.h5"
                with ShardWriter(path, 1) as wr:
                    wr.add({"sharp": quantize(sharp, "uint16", bits), "blurred": quantize(blur, "uint16", bits),
                            "sat_mask": quantize(mask, "uint8")})
                times[key].append(time.perf_counter() - tw)
                sizes[key].append(path.stat().st_size)
            times["decode"].append(t1 - t0)
            times["poses"].append(t2 - t1)
            times["warp"].append(t3 - t2b)
            times["degrade"].append(t4 - t3)
            poses.append(H.shape[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    e2e = med["decode"] + med["poses"] + med["warp"] + med["degrade"] + med["write16"]
    rows = [(k, med[k], 1.0 / med[k]) for k in ("decode", "poses", "warp", "degrade", "write16", "write12")]
    rows.append(("end-to-end (16-bit)", e2e, 1.0 / e2e))
    result = {
        "benchmark": "bench_pipeline", "device": str(dev), "threads": args.threads, "images": args.images,
        "note": args.note, "date": time.strftime("%Y-%m-%d"), "poses_per_image": poses,
        "seconds_per_image": {k: round(v, 4) for k, v in med.items()},
        "images_per_s": {k: round(1.0 / v, 3) for k, v in med.items()}, "end_to_end_images_per_s": round(1 / e2e, 3),
        "bytes_per_sample": {k: int(statistics.median(v)) for k, v in sizes.items()},
        "limiting_stage": max(("decode", "poses", "warp", "degrade", "write16"), key=lambda k: med[k]),
        "machine": machine(), "versions": versions(),
    }
    lines = [f"# bench_pipeline ({dev}, {args.threads} thread(s), {args.images} full-HD stand-ins; {args.note})", "",
             "| stage | s / image | images / s |", "|---|---|---|"]
    lines += [f"| {k} | {s:.3f} | {r:.2f} |" for k, s, r in rows]
    b = {k: v / 1e6 for k, v in result["bytes_per_sample"].items()}
    lines += ["", f"poses per image: {poses}; limiting stage: {result['limiting_stage']}", "",
              "| MB per 1280x720 sample (sharp+blurred+mask) | 16 bits | 12 bits |", "|---|---|---|",
              f"| clean blur (on_the_fly splits) | {b['write16_clean']:.2f} | {b['write12_clean']:.2f} |",
              f"| degraded blur (offline splits) | {b['write16']:.2f} | {b['write12']:.2f} |"]
    text = "\n".join(lines)
    tag = "" if dev.type == "cpu" else f"_{dev.type}"
    save_report(OUT, f"bench_pipeline{tag}", result, text)
    return result


if __name__ == "__main__":
    main()
