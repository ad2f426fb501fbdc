"""Write stage options (issue 11 item 3): HDF5 filter, level, shuffle, chunking; threaded encode and decode.

Samples: the bench_synth recipe (Kodak stand-ins at 1920x1080 -> 1280x720, fitted hand-shake, uint16 with 12
significant bits) made by the pipeline, both kinds: ``clean`` (on_the_fly splits store the clean blur) and
``noisy`` (offline splits store the degraded blur). For each option the same samples are written with
:class:`gyrobench.data.shards.ShardWriter` into one shard and read back with plain h5py (every filter here is
built into h5py: gzip, lzf, shuffle), reporting bytes, write and read seconds per sample (one thread, best of
``--repeats``; CPU time, the machine being shared).

Threads (measured, not used by the pipeline, whose parallelism is per shard across processes): the deflate of
a sample's row-block chunks by 2 threads (zlib releases the GIL) and the decode of 2 PNGs by 2 threads; reported
as wall-clock speed-up over one thread.

    OMP_NUM_THREADS=1 python benchmarks/bench_write.py [--images 3]

Writes ``benchmarks/results/bench_write.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import h5py
import numpy as np
import torch
import yaml
from _report import save_report  # noqa: E402  (benchmarks/ is the script's folder)
from bench_synth import bench_recipe, fullhd_pngs

from gyrobench.builder.pipeline import synthesize_sample
from gyrobench.builder.recipe import load_recipe
from gyrobench.data.shards import ShardWriter
from gyrobench.provenance import machine, versions

OUT = Path(__file__).resolve().parent / "results"

# (label, ShardWriter keyword arguments)
OPTIONS = [
    ("gzip 4 + shuffle (default: 6 MB budget)", {"compression": "gzip", "compression_level": 4}),
    ("gzip 1 + shuffle", {"compression": "gzip", "compression_level": 1}),
    ("gzip 2 + shuffle", {"compression": "gzip", "compression_level": 2}),
    ("gzip 6 + shuffle", {"compression": "gzip", "compression_level": 6}),
    ("gzip 1, no shuffle", {"compression": "gzip", "compression_level": 1, "shuffle": False}),
    ("gzip 1 + shuffle, 90-row chunks", {"compression": "gzip", "compression_level": 1, "chunk_rows": 90}),
    ("lzf + shuffle", {"compression": "lzf"}),
    ("none", {"compression": "none"}),
]


def _cpu(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--note", default="2-core CPU shared with other jobs (best of --repeats runs, CPU time)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    n = args.images
    rows, threads = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        imgs = fullhd_pngs(n, tmp / "img")
        rec = bench_recipe(imgs, n)
        rec["splits"] = [{"name": "train", "size": n, "degradation": "on_the_fly"},
                         {"name": "test", "size": n, "degradation": "offline"}]
        (tmp / "r.yaml").write_text(yaml.safe_dump(rec))
        recipe = load_recipe(tmp / "r.yaml")
        kinds = {"clean": [synthesize_sample(recipe, recipe.splits[0], i) for i in range(n)],
                 "noisy": [synthesize_sample(recipe, recipe.splits[1], i) for i in range(n)]}
        for label, kw in OPTIONS:
            row = {"option": label}
            for kind, samples in kinds.items():
                best_w, best_r = float("inf"), float("inf")
                for r in range(args.repeats):
                    path = tmp / f"s{r}.h5"

                    def write(path=path, samples=samples, kw=kw):
                        with ShardWriter(path, n, {"x": 1}, **kw) as wr:
                            for s in samples:
                                wr.add(s)

                    def read(path=path):
                        with h5py.File(path, "r") as f:
                            return [f[k][i] for i in range(n) for k in ("sharp", "blurred", "sat_mask", "valid")]

                    _, cw, _ = _cpu(write)
                    got, cr, _ = _cpu(read)
                    best_w, best_r = min(best_w, cw), min(best_r, cr)
                    np.testing.assert_array_equal(got[1], samples[0]["blurred"])  # lossless round trip
                row[kind] = {"bytes_per_sample": path.stat().st_size / n, "write_s": best_w / n, "read_s": best_r / n}
            rows.append(row)
            print(row, flush=True)
        # threads: deflate of row-block chunks (shuffled), 1 vs 2 threads; PNG decode 1 vs 2 threads
        img = kinds["noisy"][0]["blurred"]
        blocks = [np.ascontiguousarray(img[i:i + 90]).view(np.uint8).reshape(-1, 2).T.tobytes()
                  for i in range(0, img.shape[0], 90)]
        one = min(_cpu(lambda: [zlib.compress(b, 1) for b in blocks])[2] for _ in range(args.repeats))
        with ThreadPoolExecutor(2) as ex:
            two = min(_cpu(lambda: list(ex.map(lambda b: zlib.compress(b, 1), blocks)))[2]
                      for _ in range(args.repeats))
        pngs = sorted(imgs.glob("*.png"))[:2]
        dec = lambda p: cv2.imdecode(np.fromfile(str(p), np.uint8), cv2.IMREAD_UNCHANGED)  # noqa: E731
        d1 = min(_cpu(lambda: [dec(p) for p in pngs])[2] for _ in range(args.repeats))
        with ThreadPoolExecutor(2) as ex:
            d2 = min(_cpu(lambda: list(ex.map(dec, pngs)))[2] for _ in range(args.repeats))
        threads = {"deflate_1_thread_s": one, "deflate_2_threads_s": two, "deflate_speedup": one / two,
                   "decode_2_pngs_1_thread_s": d1, "decode_2_pngs_2_threads_s": d2, "decode_speedup": d1 / d2}
    result = {"benchmark": "bench_write", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "note": args.note, "images": n, "options": rows, "threads": threads, "machine": machine(),
              "versions": versions()}
    lines = [f"# bench_write ({result['date']}; {n} samples of each kind, 1280x720 uint16 12 bits; {args.note})", "",
             "Per sample: sharp + blurred + sat_mask + valid + metadata; read = plain h5py, every image field.", "",
             "| option | clean: MB | write s | read s | noisy: MB | write s | read s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        c, z = r["clean"], r["noisy"]
        lines.append(f"| {r['option']} | {c['bytes_per_sample'] / 1e6:.2f} | {c['write_s']:.3f} | {c['read_s']:.3f} | "
                     f"{z['bytes_per_sample'] / 1e6:.2f} | {z['write_s']:.3f} | {z['read_s']:.3f} |")
    t = threads
    lines += ["", f"Threads (wall clock, shared machine): deflate of one blurred image in 90-row chunks "
              f"{t['deflate_1_thread_s'] * 1e3:.0f} ms on 1 thread, {t['deflate_2_threads_s'] * 1e3:.0f} ms on 2 "
              f"({t['deflate_speedup']:.2f}x); PNG decode of 2 full-HD images {t['decode_2_pngs_1_thread_s'] * 1e3:.0f}"
              f" ms on 1 thread, {t['decode_2_pngs_2_threads_s'] * 1e3:.0f} ms on 2 ({t['decode_speedup']:.2f}x)."]
    text = "\n".join(lines) + "\n"
    save_report(args.out, "bench_write", result, text)
    return result


if __name__ == "__main__":
    main()
