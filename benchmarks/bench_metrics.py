"""Metric throughput at 1280x720 (GyroBlur-Synth test resolution): PSNR, SSIM (torch, float64), NIQE.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_metrics.py [--reps 3]``. Prints a table and saves it
as ``benchmarks/results/bench_metrics.{json,md}``. A 640-image test set costs ``640 x`` the per-image time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from gyrobench.metrics import create_metric
from gyrobench.provenance import machine, versions


def _time(fn, reps: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(1, 3, args.height, args.width, device=args.device)
    y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    rows = []
    for name, protocol in [("psnr", "gyrodeblurnet_official"), ("ssim", "gyrodeblurnet_official"),
                           ("ssim", "srgb8"), ("niqe", "gyrodeblurnet_official")]:
        m = create_metric(name, protocol=protocol, device=args.device)
        fn = (lambda m=m: m(y, x)) if m.full_reference else (lambda m=m: m(y))
        rows.append({"metric": name, "protocol": protocol, "size": f"{args.width}x{args.height}",
                     "seconds_per_image": round(_time(fn, args.reps), 4)})
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"threads": torch.get_num_threads(), "device": args.device, "machine": machine(),
            "versions": versions(), "note": "best of reps after one warm-up; CPU shared with other jobs"}
    (out / "bench_metrics.json").write_text(json.dumps({"rows": rows, **meta}, indent=1))
    lines = ["| metric | protocol | size | s / image |", "|---|---|---|---|"]
    lines += [f"| {r['metric']} | {r['protocol']} | {r['size']} | {r['seconds_per_image']:.4f} |" for r in rows]
    lines.append(f"\n{meta['note']}; torch threads {meta['threads']}, device {args.device}.")
    (out / "bench_metrics.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
