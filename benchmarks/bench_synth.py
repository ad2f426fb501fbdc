"""Synthesis throughput per stage (decode, poses, warp, degrade) in full-HD images per second.

Stand-in data: the shipped 500x500 Kodak images upscaled to 1920x1080 (bicubic), since 4KRD frames are not
shipped. Gyro: 11-sample windows (10 raw intervals at 210 Hz) from the fitted hand-shake generator when present
(``gyrobench.gyro.handshake``), else a constant-rate synthetic window of comparable size. Camera: 4KRD intrinsics
(fx = 2139 px), crop 1920x1080 -> 1280x720 (gyrodeblurnet.md §1.1). Poses: adaptive, <= 1 px between warps and
>= 8 sub-steps per interval (rsblur.md D2).

Stages (each is a plain function, so benchmarks/bench_pipeline.py can time the same calls):
  decode   8-bit sRGB PNG -> float32 linear (B,3,1080,1920)           ``load_linear``
  poses    gyro window -> P homographies (adaptive sub-steps)         ``blur.blur_homographies``
  warp     P bilinear warps of the frame, crop-only, averaged         ``blur.render_blur`` (+ saturation mask)
  degrade  each preset on the 1280x720 blurred crop                    ``degrade.Degradation``

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_synth.py [--images 2] [--device cpu|cuda]``.
Writes ``benchmarks/results/bench_synth.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from gyrobench.color import srgb_to_linear
from gyrobench.synth.blur import blur_homographies, centre_crop_box, max_step_px, render_blur
from gyrobench.synth.degrade import Degradation
from gyrobench.synth.presets import PRESETS

FRAME_HW = (1080, 1920)
CROP_HW = (720, 1280)
K_4KRD = np.array([[2139.03493, 0, 960], [0, 2133.82853, 540], [0, 0, 1]])


def kodak_fullhd(n: int) -> list[np.ndarray]:
    """n upscaled Kodak stand-ins, uint8 RGB (1080, 1920, 3)."""
    from gyrobench.assets import kodak_paths

    out = []
    for p in kodak_paths()[:n]:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        out.append(cv2.resize(bgr[:, :, ::-1], (FRAME_HW[1], FRAME_HW[0]), interpolation=cv2.INTER_CUBIC))
    return out


def load_linear(rgb8: np.ndarray, device) -> torch.Tensor:
    """Decode stage: uint8 sRGB HWC -> float32 linear (1,3,H,W) on device."""
    t = torch.from_numpy(np.ascontiguousarray(rgb8)).to(device).permute(2, 0, 1)[None].float() / 255.0
    return srgb_to_linear(t)


def gyro_windows(n: int, seed: int = 0):
    try:
        from gyrobench.gyro.handshake import load_default_handshake

        model = load_default_handshake()
        rec = model.sample(400, seed=seed)
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, len(rec.t_ns) - 11, size=n)
        return [(rec.t_ns[s : s + 11], rec.w[s : s + 11]) for s in starts], "fitted hand-shake generator"
    except Exception as exc:  # noqa: BLE001 - the generator is another area's; fall back, say so
        t = np.arange(11, dtype=np.int64) * 4_757_000
        w = np.tile([0.05, 0.08, 0.02], (11, 1))
        return [(t, w)] * n, f"constant-rate window (hand-shake generator unavailable: {exc})"


def _timed(fn, sync):
    """(result, (wall s, process CPU s)). On a shared CPU the CPU time of a 1-thread run is the better
    estimate of uncontended wall time; on a GPU only the wall time is meaningful."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    sync()
    return out, (time.perf_counter() - t0, time.process_time() - c0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    imgs = kodak_fullhd(args.images)
    wins, gyro_src = gyro_windows(args.images)
    crop = centre_crop_box(FRAME_HW, CROP_HW)
    times = {"decode": [], "poses": [], "warp": [], "degrade": {k: [] for k in PRESETS}}
    poses, steps = [], []
    # warm-up (allocator, kernels)
    x = load_linear(imgs[0], dev)
    render_blur(x, np.tile(np.eye(3), (1, 4, 1, 1)), crop=crop)
    for img, (t, w) in zip(imgs, wins, strict=True):
        x, dt = _timed(lambda img=img: load_linear(img, dev), sync)
        times["decode"].append(dt)
        (H, _, s), dt = _timed(lambda t=t, w=w: blur_homographies(t, w, K_4KRD, FRAME_HW), sync)
        times["poses"].append(dt)
        poses.append(H.shape[0])
        steps.append(max_step_px(H, FRAME_HW))
        r, dt = _timed(
            lambda x=x, H=H: render_blur(x, torch.from_numpy(H)[None], crop=crop, sat_threshold=1.0), sync
        )
        times["warp"].append(dt)
        for name in PRESETS:
            deg = Degradation(name, domain="linear").to(dev)
            _, dt = _timed(lambda deg=deg, r=r: deg(r["blurred"], r["sat_mask"], generator=0), sync)
            times["degrade"][name].append(dt)

    def m(v):
        a = np.asarray(v)
        return float(a[:, 0].mean()), float(a[:, 1].mean())

    rows = [
        ("decode (PNG->linear, 1920x1080)", *m(times["decode"])),
        ("poses (adaptive homographies)", *m(times["poses"])),
        (f"warp ({np.mean(poses):.0f} poses avg, crop 1280x720, + sat mask)", *m(times["warp"])),
    ]
    rows += [(f"degrade {k} (1280x720)", *m(v)) for k, v in times["degrade"].items()]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "images": args.images,
        "gyro": gyro_src,
        "poses_per_image": poses,
        "max_step_px": steps,
        "note": "2-core CPU shared with other jobs; per-image seconds, mean over images"
        if dev.type == "cpu"
        else "",
        "stages": [
            {
                "stage": n,
                "wall_s_per_image": s,
                "cpu_s_per_image": c,
                "images_per_s_wall": 1 / s,
                "images_per_s_cpu": 1 / max(c, 1e-9),
            }
            for n, s, c in rows
        ],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_synth.json").write_text(json.dumps(result, indent=1))
    lines = [
        f"# bench_synth ({result['date']}, {result['device']}, torch threads {result['torch_threads']})",
        "",
        f"gyro: {gyro_src}; poses per image {poses}; max step px {[round(s, 2) for s in steps]}",
        "",
        "| stage | wall s / image | CPU s / image | full-HD images / s (wall) | (CPU time) |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {n} | {s:.3f} | {c:.3f} | {1 / s:.2f} | {1 / max(c, 1e-9):.2f} |" for n, s, c in rows]
    if result["note"]:
        lines += ["", result["note"]]
    (out / "bench_synth.md").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
