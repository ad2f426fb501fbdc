"""Timings of gyrobench.gyro.handshake and its neighbours: hand-shake fit/sample, blur-extent statistics,
motion-field pictures, leaderboard.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_handshake.py``.
Writes ``benchmarks/results/bench_handshake.{json,md}``. The fit rows need ``../shared/data/gyro/gyro_train.txt``
(skipped without it). No targets are set for these parts in the issues; the table documents the cost.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GYROBENCH_SHARED", ROOT.parent / "shared"))


def timeit(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    from gyrobench.gyro import handshake as hs
    from gyrobench.viz import cmf_colorwheel, render_cmf

    rows = []
    model = hs.load_default_handshake()
    rows.append(
        ("handshake sample, 11 samples (one exposure window)", timeit(lambda: model.sample(11, seed=1), 20))
    )
    rows.append(("handshake sample, 39,116 samples (186 s)", timeit(lambda: model.sample(39116, seed=1))))
    rec = model.sample(39116, seed=1)
    rows.append(
        (
            "blur extents, 39,106 windows of 11 samples",
            timeit(lambda: hs.window_blur_extents(rec.t_ns, rec.w), 3),
        )
    )
    gyro = SHARED / "data" / "gyro" / "gyro_train.txt"
    if gyro.is_file():
        d = np.loadtxt(gyro)
        rows.append(
            (
                "handshake fit, first 80 % of gyro_train.txt (loaded)",
                timeit(lambda: hs.fit_handshake(d[:, 0].astype(np.int64), d[:, 1:], fraction=0.8), 3),
            )
        )
    rng = np.random.default_rng(0)
    field = (rng.normal(size=(360, 640, 16)) * 3).astype(np.float32)
    rows.append(
        (
            "render_cmf glyphs, 1280x720 picture (360x640x16 field)",
            timeit(lambda: render_cmf(field, step=48), 3),
        )
    )
    rows.append(("cmf_colorwheel, 360x640 field", timeit(lambda: cmf_colorwheel(field), 3)))
    sys.path.insert(0, str(ROOT / "tests"))
    from test_leaderboard import MODELS, _record  # hand-written records, as in the tests

    from gyrobench.leaderboard import publish

    with tempfile.TemporaryDirectory() as tmp:
        recs = [_record(Path(tmp) / "results", i, *m) for i, m in enumerate(MODELS)]
        rows.append(
            (
                "leaderboard publish, 3 records, tables only",
                timeit(lambda: publish(recs, Path(tmp) / "lb", plots_enabled=False), 3),
            )
        )
        rows.append(
            ("leaderboard publish, 3 records, with plots", timeit(lambda: publish(recs, Path(tmp) / "lb"), 2))
        )
    env = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "note": "best of N runs; the 2-core machine was shared with other jobs",
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_handshake.json").write_text(
        json.dumps({"env": env, "rows": [{"what": w, "seconds": round(s, 6)} for w, s in rows]}, indent=1)
        + "\n"
    )
    lines = ["| what | time |", "|---|---|"] + [f"| {w} | {s * 1e3:.2f} ms |" for w, s in rows]
    md = "\n".join(lines) + f"\n\nEnvironment: {json.dumps(env)}\n"
    (out / "bench_handshake.md").write_text(md)
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
