"""Benchmark: camera motion field speed on ONE CPU core, vs the official generator's arithmetic (issue 3).

Times one 1280x720 (-> 360x640x16) float32 field and a batch of 64, for gyrobench's torch and numpy kernels and
for a re-implementation of the official generator's arithmetic written here from spec ``gyrodeblurnet.md`` §3.1
(official loop over idx = 0..9 skipping 4 and 9, explicit Rx/Ry/Rz matrices, per-pose homography applied to the
whole float64 homogeneous grid, pre/pro halves with homography inversion, offsets, differencing, negation, HWC
stack, cast to float32). Also checks that both agree, and measures the error model's mean absolute clean-vs-noisy
field discrepancy (the statistic [T] reports, spec §3.3 item 7) on windows of ``gyro_train.txt``.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cmf.py [--repeats 15] [--batch 64] [--no-calibration]
Writes benchmarks/results/bench_cmf.json and .md. Timings: per-thread CPU time (min, median) and min wall time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gyrobench.gyro import FOURKRD, FOURKRD_CROP, camera_motion_field, camera_motion_fields, load_gyro  # noqa: E402
from gyrobench.gyro.error_model import GyroErrorModel, mean_abs_discrepancy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GYROBENCH_SHARED", ROOT.parent / "shared"))


# ---- the official generator's arithmetic (spec §3.1), re-implemented from the spec's prose -----------------------
def official_arithmetic(t_ns, w, K=FOURKRD.K, cast=True):
    """One field the way the official script computes it (float64 throughout, float32 at the end if ``cast``)."""
    t = np.asarray(t_ns, dtype=np.int64)
    rots = []
    for idx in range(10):  # raw sample s + idx; the 11th sample is read at idx = 9 before the skip
        gap = (w[idx + 1] - w[idx]) / 8
        if idx % 5 == 4:  # idx 4 and 9 are skipped
            continue
        rate = w[idx] + gap * 2 * (idx % 5)
        a = rate * ((t[idx + 1] - t[idx]) * 1e-9) * 10 / 8
        cx, sx = math.cos(-a[0]), math.sin(-a[0])
        cy, sy = math.cos(-a[1]), math.sin(-a[1])
        cz, sz = math.cos(a[2]), math.sin(a[2])
        Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        Rz = np.array([[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]])  # +sin top right = Rz(-a_z)
        rots.append(Rx @ Ry @ Rz)
    Kinv = np.linalg.inv(K)
    uu, vv = np.meshgrid(np.arange(320, 1600, 2, dtype=np.float64), np.arange(180, 900, 2, dtype=np.float64))
    X = np.stack([uu.ravel(), vv.ravel(), np.ones(uu.size)])  # (3, N) full float64 grid
    offsets_pro, offsets_pre = [], []
    acc = np.eye(3)
    for k in range(4, 8):  # pro half: left accumulation from the centre
        acc = rots[k] @ acc
        q = (K @ acc @ Kinv) @ X
        offsets_pro.append(q[:2] / q[2] - X[:2])
    acc = np.eye(3)
    for k in range(3, -1, -1):  # pre half: right accumulation, then homography inversion
        acc = acc @ rots[k]
        q = np.linalg.inv(K @ acc @ Kinv) @ X
        offsets_pre.insert(0, q[:2] / q[2] - X[:2])
    d = offsets_pre + offsets_pro  # d0, d1, d2, d3, d5, d6, d7, d8
    pre = [d[0] - d[1], d[1] - d[2], d[2] - d[3], d[3]]
    pro = [d[4], d[5] - d[4], d[6] - d[5], d[7] - d[6]]
    chans = [-c for c in pre] + pro
    field = np.concatenate(chans, axis=0).T.reshape(360, 640, 16)  # HWC
    return field.astype(np.float32) if cast else field


def _time(fn, repeats):
    """(min CPU time, median CPU time, min wall time) in s. CPU time of this (single) thread is the primary
    figure: on a shared machine the wall clock also counts the time the scheduler gives to other jobs."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), statistics.median(cpu), min(wall)


def _windows(n, seed=0):
    path = SHARED / "data" / "gyro" / "gyro_train.txt"
    if path.is_file():
        rec = load_gyro(path)
        rng = np.random.default_rng(seed)
        starts = rng.choice(len(rec) - 11, n, replace=False)
        return (np.stack([rec.t_ns[s : s + 11] for s in starts]), np.stack([rec.w[s : s + 11] for s in starts]),
                f"{path.name} (random starts, seed {seed})")
    rng = np.random.default_rng(seed)
    t = np.broadcast_to(np.arange(11, dtype=np.int64) * 4_757_600, (n, 11)).copy()
    return t, rng.normal(0, 0.6, (n, 11, 3)), "synthetic N(0, 0.6 rad/s) (../shared absent)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--no-calibration", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    T, W, src = _windows(max(args.batch, 200))
    t1, w1 = T[0], W[0]
    load0 = os.getloadavg()

    rows = []

    def add(name, fn, per=1, n=args.repeats):
        best, med, wall = _time(fn, n)
        rows.append({"case": name, "ms_per_field_min": best / per * 1e3, "ms_per_field_median": med / per * 1e3,
                     "ms_per_field_wall_min": wall / per * 1e3})

    kw = dict(crop=FOURKRD_CROP)
    add("official arithmetic (re-impl., float64 -> float32 HWC)", lambda: official_arithmetic(t1, w1), n=5)
    add("gyrobench torch float32 HWC", lambda: camera_motion_field(t1, w1, FOURKRD, **kw))
    add("gyrobench torch float32 CHW", lambda: camera_motion_field(t1, w1, FOURKRD, layout="chw", **kw))
    add("gyrobench numpy float32 HWC", lambda: camera_motion_field(t1, w1, FOURKRD, backend="numpy", **kw))
    add("gyrobench numpy float32 CHW",
        lambda: camera_motion_field(t1, w1, FOURKRD, backend="numpy", layout="chw", **kw))
    add("gyrobench torch float64 HWC", lambda: camera_motion_field(t1, w1, FOURKRD, dtype=np.float64, **kw))
    B = args.batch
    outb = np.empty((B, 360, 640, 16), np.float32)
    outc = np.empty((B, 16, 360, 640), np.float32)
    add(f"gyrobench torch float32 HWC, batch of {B}",
        lambda: camera_motion_fields(T[:B], W[:B], FOURKRD, out=outb, **kw), per=B, n=3)
    add(f"gyrobench torch float32 CHW, batch of {B}",
        lambda: camera_motion_fields(T[:B], W[:B], FOURKRD, layout="chw", out=outc, **kw), per=B, n=3)
    load1 = os.getloadavg()

    # agreement with the official arithmetic
    ref = official_arithmetic(t1, w1).astype(np.float64)
    ours64 = camera_motion_field(t1, w1, FOURKRD, dtype=np.float64, **kw)
    ours32 = camera_motion_field(t1, w1, FOURKRD, **kw)
    agree = {"max_abs_diff_float64_vs_official_px": float(np.abs(ours64 - official_arithmetic(t1, w1, cast=False)).max()),
             "max_abs_diff_float32_vs_official_float32_px": float(np.abs(ours32 - ref).max())}

    calib = None
    if not args.no_calibration:
        m = GyroErrorModel()
        n = 200
        a = mean_abs_discrepancy(T[:n], W[:n], FOURKRD, m, seed=0, crop=FOURKRD_CROP, stride=16)
        b = mean_abs_discrepancy(T[:n], W[:n] * 1.8, FOURKRD, m, seed=0, crop=FOURKRD_CROP, stride=16)
        calib = {"model": m.__dict__, "windows": n, "grid_stride": 16,
                 "mean_abs_px": a["mean_abs_px"], "max_abs_px": a["max_abs_px"],
                 "mean_abs_px_rates_x1.8": b["mean_abs_px"], "max_abs_px_rates_x1.8": b["max_abs_px"],
                 "reference_T_mean_abs_px": 0.559}

    base = rows[0]["ms_per_field_min"]
    for r in rows:
        r["speedup_vs_official"] = base / r["ms_per_field_min"]
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or
            platform.machine(), "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "numpy": np.__version__, "windows": src,
            "loadavg_before": load0, "loadavg_after": load1,
            "note": "single thread; 2-core CPU shared with other jobs (see load averages)"}
    res = {"meta": meta, "timings": rows, "agreement": agree, "error_model_calibration": calib}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_cmf.json").write_text(json.dumps(res, indent=2, default=float))
    lines = ["# CMF benchmark (one CPU thread)", "",
             f"{meta['date']}, {meta['machine']}, {meta['cpu_count']} cores, torch {meta['torch']}, "
             f"load average before/after {load0[0]:.1f}/{load1[0]:.1f} (shared machine). Window: {src}.", "",
             "Times are per field, CPU time of the single benchmark thread (min and median over repeats) and the "
             "min wall time.", "",
             "| case | CPU ms (min) | CPU ms (median) | wall ms (min) | speed-up vs official (CPU min) |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['ms_per_field_min']:.2f} | {r['ms_per_field_median']:.2f} | "
              f"{r['ms_per_field_wall_min']:.2f} | {r['speedup_vs_official']:.1f}x |" for r in rows]
    lines += ["", f"Agreement with the official arithmetic: float64 {agree['max_abs_diff_float64_vs_official_px']:.2e}"
                  f" px, float32 {agree['max_abs_diff_float32_vs_official_float32_px']:.2e} px (max abs)."]
    if calib:
        lines += ["", f"Error model (defaults) on {calib['windows']} windows: mean |noisy - clean| "
                      f"{calib['mean_abs_px']:.3f} px per component (max {calib['max_abs_px']:.2f}); with rates x1.8 "
                      f"(test-strength proxy) {calib['mean_abs_px_rates_x1.8']:.3f} px (max "
                      f"{calib['max_abs_px_rates_x1.8']:.2f}); [T] measured 0.559 px on the test set."]
    (out / "bench_cmf.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
