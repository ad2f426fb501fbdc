"""Benchmark of the training side: loader throughput (crops + recomputed fields) and optimizer-step time of the
demo models. Prints a table and saves ``benchmarks/results/bench_train.{json,md}``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_train.py [--data DIR] [--crop 96] [--batch 4]

Without ``--data`` it synthesizes the builtin ``smoke`` recipe (48x48 crops) into a temporary folder, which only
exercises the code path; point ``--data`` at ``out/demo/data`` (after ``gyrobench demo``) for 480x480 shards.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from gyrobench.data.dataset import ShardDataset, collate
from gyrobench.demo import DEMO_MODELS
from gyrobench.models import build
from gyrobench.provenance import machine, versions
from gyrobench.train.loss import psnr_loss

RESULTS = Path(__file__).resolve().parent / "results"


def bench_loader(root: Path, crop: int, batch: int, n_batches: int) -> list[dict]:
    rows = []
    for fields in (False, True):
        ds = ShardDataset(root, split="train", crop=crop, fields=fields, verify=False)
        loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, collate_fn=collate,
                                             num_workers=0, drop_last=True,
                                             generator=torch.Generator().manual_seed(0))
        n, t0 = 0, time.perf_counter()
        while n < n_batches * batch:
            for b in loader:
                n += b["blurred"].shape[0]
                if n >= n_batches * batch:
                    break
        dt = time.perf_counter() - t0
        rows.append({"what": f"loader crop {crop} fields={'recomputed' if fields else 'off'}",
                     "value": n / dt, "unit": "samples/s"})
    return rows


def bench_models(crop: int, batch: int, steps: int) -> list[dict]:
    rows = []
    for name, spec in DEMO_MODELS.items():
        torch.manual_seed(0)
        model = build(spec["model"]["name"], **spec["model"]["options"])
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        b = {"blurred": torch.rand(batch, 3, crop, crop), "sharp": torch.rand(batch, 3, crop, crop),
             "cmf_clean": torch.randn(batch, 16, crop // 2, crop // 2),
             "cmf_noisy": torch.randn(batch, 16, crop // 2, crop // 2), "alpha": 0.5}
        times = []
        for i in range(steps + 1):
            t0 = time.perf_counter()
            loss = psnr_loss(model(b), b["sharp"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:  # first step = warm-up
                times.append(time.perf_counter() - t0)
        rows.append({"what": f"train step {name} ({sum(p.numel() for p in model.parameters()):,} params), "
                             f"batch {batch} x {crop}^2", "value": sum(times) / len(times), "unit": "s/step"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batches", type=int, default=10)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        loader_crop = args.crop
        if data is None:
            from gyrobench.builder.pipeline import synthesize

            data = Path(tmp) / "smoke"
            synthesize("smoke", data)
            loader_crop = 32
        rows += bench_loader(data, loader_crop, args.batch, args.batches)
    rows += bench_models(args.crop, args.batch, args.steps)
    env = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(), "versions": versions(),
           "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "torch_threads": torch.get_num_threads(),
           "note": "2-core CPU shared with other jobs unless stated otherwise"}
    md = ["| what | value | unit |", "|---|---:|---|"] + [f"| {r['what']} | {r['value']:.3f} | {r['unit']} |"
                                                          for r in rows]
    text = "\n".join(md)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_train.json").write_text(json.dumps({"env": env, "rows": rows}, indent=2))
    (RESULTS / "bench_train.md").write_text(f"# bench_train ({env['date']}; {env['note']})\n\n{text}\n")


if __name__ == "__main__":
    main()
