"""Baselines benchmark: CMF -> baseline-input conversions and the classical deconvolution at 1280×720.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_baselines.py                  # CPU, 1 thread
    .venv/bin/python benchmarks/bench_baselines.py --device cuda --rl-iterations 30

Writes ``benchmarks/results/bench_baselines.{json,md}``. The motion field is a real GyroBlur-Synth-style field:
FOURKRD intrinsics, the 1280×720 crop, one 11-sample window of the packaged hand-shake generator (seed 7), M = 8.
Times are the best of ``--repeat`` wall-clock runs of one call under ``torch.no_grad()``. Forward times of the
learned baselines (DeepGyro, EggNet) are in ``bench_models.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gyrobench.gyro.camera import FOURKRD  # noqa: E402
from gyrobench.gyro.cmf import camera_motion_field  # noqa: E402
from gyrobench.gyro.handshake import load_default_handshake  # noqa: E402
from gyrobench.models import gyro_inputs as gi  # noqa: E402
from gyrobench.models.classical import deconvolve  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CROP = (320, 180, 1280, 720)


def _field(device, seed=7):
    rec = load_default_handshake().sample(11, seed=seed)
    f = camera_motion_field(rec.t_ns, rec.w, FOURKRD, crop=CROP, layout="chw", dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(f))[None].to(device)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, repeat):
    ts = []
    with torch.no_grad():
        for _ in range(repeat):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            ts.append(time.perf_counter() - t0)
    return min(ts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--rl-iterations", type=int, default=10)
    p.add_argument("--tile", type=int, default=128)
    p.add_argument("--out", default=str(RESULTS / "bench_baselines"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cmf = _field(device)
    extent = float(cmf.reshape(1, 8, 2, 360, 640).sum(1).norm(dim=1).max())
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 720, 1280, generator=g).to(device)
    rows = []

    def add(what, seconds, note=""):
        rows.append({"what": what, "seconds": seconds, "note": note})

    add(
        "deepgyro_blur_field 1280x720",
        _time(lambda: gi.deepgyro_blur_field(cmf, (720, 1280)), device, args.repeat + 1),
    )
    add("eggnet_mgv 1280x720", _time(lambda: gi.eggnet_mgv(cmf, (720, 1280)), device, args.repeat + 1))
    poses = gi.cmf_poses(cmf.double())[0].permute(2, 3, 0, 1)[::64, ::64]  # tile-centre grid of poses
    add(
        f"trajectory_psf x{poses.shape[0] * poses.shape[1]} tiles",
        _time(lambda: gi.trajectory_psf(poses), device, args.repeat + 1),
        f"PSF side {2 * gi.psf_radius(poses) + 1}",
    )
    add(
        f"classical wiener tile {args.tile}",
        _time(lambda: deconvolve(img, cmf, method="wiener", tile=args.tile), device, args.repeat),
    )
    t_rl = _time(
        lambda: deconvolve(img, cmf, method="rl", iterations=args.rl_iterations, tile=args.tile),
        device,
        args.repeat,
    )
    add(f"classical rl {args.rl_iterations} it, tile {args.tile}", t_rl)
    meta = {
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "field": f"FOURKRD crop {CROP}, hand-shake seed 7, max start->end blur {extent:.1f} px",
        "load_note": "2-core CPU shared with other jobs" if device.type == "cpu" else "",
    }
    lines = [
        f"# bench_baselines ({meta['device']}, {args.threads} thread(s), {meta['date']})",
        "",
        f"Field: {meta['field']}. {meta['load_note']}",
        "",
        "| what | seconds | note |",
        "|---|---|---|",
    ]
    lines += [f"| {r['what']} | {r['seconds']:.3f} | {r['note']} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    out.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
