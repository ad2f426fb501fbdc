"""Synthesis scaling (issue 11 item 4): ``synthesize`` with 1 and 2 worker processes and on a dask LocalCluster.

The bench_synth recipe (Kodak stand-ins at 1920x1080 -> 1280x720, fitted hand-shake, offline degradation,
uint16 12 bits, gzip 4) with ``--images`` samples in shards of ``--shard-size``; every configuration writes the
same dataset (the manifests' shard hashes are compared: the worker count never changes a byte). Wall-clock time,
best of ``--repeats``; efficiency = speed-up / workers. The load average is recorded: on a shared machine the
second core is not free, which caps the measured efficiency.

    python benchmarks/bench_synth_scaling.py [--images 8] [--shard-size 2]

Writes ``benchmarks/results/bench_synth_scaling.{json,md}``, including the projection for GyroBlur-Synth
(15,240 samples) from the measured per-sample time and efficiency.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import yaml
from bench_synth import bench_recipe, fullhd_pngs

from gyrobench.build.pipeline import synthesize
from gyrobench.build.recipe import load_recipe
from gyrobench.provenance import machine, versions

OUT = Path(__file__).resolve().parent / "results"
GYROBLUR_SYNTH = 15_240  # samples (14,600 train + 640 test; gyrodeblurnet.md §1)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--shard-size", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dask", type=int, default=1, help="also run on a dask LocalCluster (needs distributed)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        imgs = fullhd_pngs(min(args.images, 24), tmp / "img")
        rec = bench_recipe(imgs, args.images)
        rec["storage"]["shard_size"] = args.shard_size
        (tmp / "r.yaml").write_text(yaml.safe_dump(rec))
        recipe = load_recipe(tmp / "r.yaml")
        configs = [("workers=1", {"workers": 1}), ("workers=2", {"workers": 2})]
        cluster = None
        if args.dask:
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            configs.append(("dask LocalCluster (2 processes x 1 thread)", {"scheduler": client}))
        try:
            for name, kw in configs:
                best, load, shards = float("inf"), None, None
                for r in range(args.repeats):
                    out = tmp / f"{name[:9].replace(' ', '_').replace('=', '')}_{r}"
                    t0 = time.perf_counter()
                    man = synthesize(recipe, out, **kw)
                    dt = time.perf_counter() - t0
                    if dt < best:
                        best, load = dt, os.getloadavg()
                    shards = [(e["file"], e["sha256"]) for e in man["shards"]]
                runs[name] = {"s": best, "s_per_sample": best / args.images, "loadavg_at_end": load, "shards": shards}
                print(name, f"{best:.1f} s", flush=True)
        finally:
            if cluster is not None:
                client.close()
                cluster.close()
    ref = runs["workers=1"]
    ref_shards = ref["shards"]
    for name, r in runs.items():
        workers = 1 if name == "workers=1" else 2
        r["speedup"] = ref["s"] / r["s"]
        r["efficiency"] = r["speedup"] / workers
        r["same_bytes_as_workers_1"] = r.pop("shards") == ref_shards
    eff = runs["workers=2"]["efficiency"]
    t1 = ref["s_per_sample"]
    proj = {
        "one_worker_hours": GYROBLUR_SYNTH * t1 / 3600,
        "16_cores_hours": GYROBLUR_SYNTH * t1 / (16 * eff) / 3600,
        "dask_4x16_cores_hours": GYROBLUR_SYNTH * t1 / (64 * eff) / 3600,
        "assumes": "per-sample time of one worker here, measured 2-worker efficiency held at 16 and 64 workers; "
                   "shards are independent (no communication); source images on a shared file system",
    }
    result = {"benchmark": "bench_synth_scaling", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "images": args.images, "shard_size": args.shard_size, "cpus": os.cpu_count(), "runs": runs,
              "projection_gyroblur_synth": proj, "machine": machine(), "versions": versions()}
    lines = [f"# bench_synth_scaling ({result['date']}; {args.images} full-HD samples in shards of "
             f"{args.shard_size}; {os.cpu_count()} CPUs shared with other jobs, best of {args.repeats})", "",
             "| configuration | wall s | s / sample | speed-up | efficiency | same bytes | load avg at end |",
             "|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        lines.append(f"| {name} | {r['s']:.1f} | {r['s_per_sample']:.2f} | {r['speedup']:.2f}x | "
                     f"{100 * r['efficiency']:.0f} % | {'yes' if r['same_bytes_as_workers_1'] else 'NO'} | "
                     f"{r['loadavg_at_end'][0]:.1f} |")
    lines += ["", f"GyroBlur-Synth ({GYROBLUR_SYNTH} samples) projected: {proj['one_worker_hours']:.1f} h on one "
              f"worker, {proj['16_cores_hours']:.2f} h on 16 cores, {proj['dask_4x16_cores_hours']:.2f} h on a dask "
              f"cluster of 4 x 16 cores ({proj['assumes']})."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_synth_scaling.json").write_text(json.dumps(result, indent=1))
    (out / "bench_synth_scaling.md").write_text(text)
    return result


if __name__ == "__main__":
    main()
