"""Camera-gyro time-offset calibration from the photo: error on synthetic captures with known offsets.

Target (issue 10): error <= 2 ms for 20 ms exposures. Each case is a synthetic capture (``gyrobench capture
synth``: a packaged Kodak image, the demo camera with its focal length times ``focal_scale``, the fitted
hand-shake, 20 ms exposure) whose capture.json states offset 0 while the true offset is drawn uniformly in
[-15, 15] ms; ``gyrobench.restore.timecal.calibrate_capture`` searches +-30 ms. With ``--readout`` the captures
have a 20 ms rolling-shutter readout (stored as 0) and the readout is searched too.

Run: ``.venv/bin/python benchmarks/bench_timecal.py [--cases 4] [--focal-scales 1,2,4] [--readout]``.
Writes ``benchmarks/results/bench_timecal{_readout}.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from gyrobench.capture import load_capture
from gyrobench.capture.synthetic import make_synthetic_capture
from gyrobench.provenance import machine, versions
from gyrobench.restore.timecal import calibrate_capture


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=4, help="captures per focal scale")
    ap.add_argument("--focal-scales", default="1,2,4")
    ap.add_argument("--readout", action="store_true", help="20 ms readout, searched as well")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fs in (float(v) for v in args.focal_scales.split(",")):
            for k in range(args.cases):
                off = float(np.round(rng.uniform(-15, 15), 2))
                img, seed = int(rng.integers(0, 12)), int(rng.integers(0, 10_000))
                d = Path(tmp) / f"c{fs}_{k}"
                make_synthetic_capture(d, image=img, seed=seed, exposure_ms=20.0, offset_ms=off, store_offset=False,
                                       focal_scale=fs, readout_ms=20.0 if args.readout else 0.0)
                cap, folder = load_capture(d)
                if args.readout:
                    cap = cap.replace(readout_time_s=0.0)
                t0 = time.perf_counter()
                res = calibrate_capture(cap, folder, range_ms=30.0, search_readout=args.readout)
                row = {"focal_scale": fs, "image": img, "seed": seed, "true_offset_ms": off,
                       "estimate_ms": res["time_offset_ns"] / 1e6, "error_ms": res["offset_error_ms"],
                       "tile": res["tile"], "seconds": time.perf_counter() - t0}
                if args.readout:
                    row.update(readout_estimate_ms=res["readout_time_s"] * 1e3, readout_error_ms=res["readout_error_ms"])
                rows.append(row)
                print(json.dumps(row))
    err = np.abs([r["error_ms"] for r in rows])
    summary = {"n": len(rows), "abs_error_ms_median": float(np.median(err)), "abs_error_ms_mean": float(err.mean()),
               "abs_error_ms_max": float(err.max()), "fraction_within_2ms": float((err <= 2.0).mean()),
               "target": "<= 2 ms at 20 ms exposure"}
    by_fs = {}
    for fs in sorted({r["focal_scale"] for r in rows}):
        e = np.abs([r["error_ms"] for r in rows if r["focal_scale"] == fs])
        by_fs[str(fs)] = {"median": float(np.median(e)), "max": float(e.max()), "within_2ms": float((e <= 2).mean())}
    summary["by_focal_scale"] = by_fs
    if args.readout:
        re = np.abs([r["readout_error_ms"] for r in rows])
        summary.update(readout_abs_error_ms_median=float(np.median(re)), readout_abs_error_ms_max=float(re.max()))
    out = Path(__file__).resolve().parent / "results"
    stem = "bench_timecal_readout" if args.readout else "bench_timecal"
    rec = {"summary": summary, "rows": rows, "machine": machine(), "versions": versions(),
           "command": "benchmarks/bench_timecal.py" + (" --readout" if args.readout else "")}
    (out / f"{stem}.json").write_text(json.dumps(rec, indent=1) + "\n")
    lines = [f"# Time-offset calibration from the photo ({'offset + readout' if args.readout else 'offset'})", "",
             "Synthetic captures (Kodak image, demo camera x focal_scale, fitted hand-shake, 20 ms exposure"
             + (", 20 ms readout" if args.readout else "") + "); true offset uniform in [-15, 15] ms, search +-30 ms.",
             "", "| focal scale | image | true offset (ms) | estimate (ms) | error (ms) |"
             + (" readout est. (ms) |" if args.readout else ""), "|---|---|---|---|---|" + ("---|" if args.readout else "")]
    for r in rows:
        lines.append(f"| {r['focal_scale']:g} | {r['image']} | {r['true_offset_ms']:.2f} | {r['estimate_ms']:.2f} | "
                     f"{r['error_ms']:+.2f} |" + (f" {r['readout_estimate_ms']:.1f} |" if args.readout else ""))
    lines += ["", f"|error|: median {summary['abs_error_ms_median']:.2f} ms, mean {summary['abs_error_ms_mean']:.2f} ms, "
              f"max {summary['abs_error_ms_max']:.2f} ms; within 2 ms: {summary['fraction_within_2ms']:.0%} "
              f"(target <= 2 ms)."]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
