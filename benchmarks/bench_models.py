"""Model benchmark: forward time at 1280×720, parameters and GMACs per model; pure-PyTorch DCN vs torchvision.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_models.py               # all learned models, 1 run each
    .venv/bin/python benchmarks/bench_models.py --models gyrodeblurnet nafnet --repeat 2 --device cuda

Writes ``benchmarks/results/bench_models.{json,md}``. The DCN comparison runs in this interpreter when torchvision
imports, otherwise in ``--iqa-python`` (default ``.venv-iqa/bin/python``, which has torchvision) as a subprocess.
Times are wall-clock seconds of one ``model(batch)`` call under ``torch.no_grad()`` in eval mode, after one
warm-up at a small size (CPU) or ``--warmup`` full-size calls (CUDA, synchronised).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gyrobench.models import (  # noqa: E402
    available,
    build,
    dcn,
)
from gyrobench.models.complexity import model_complexity  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _batch(model, h, w, device):
    m = int(getattr(model, "M", 8) or 8)
    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    g = torch.Generator().manual_seed(0)
    cmf = (torch.randn(1, 2 * m, hp // 2, wp // 2, generator=g) * 5).to(device)
    return {
        "blurred": torch.rand(1, 3, h, w, generator=g).to(device),
        "cmf_clean": cmf,
        "cmf_noisy": cmf,
        "alpha": 1.0,
        "meta": {},
    }


def time_model(name, options, h, w, device, repeat, warmup):
    model = build(name, **options).to(device).eval()
    with torch.no_grad():
        if device.type == "cuda":
            for _ in range(warmup):
                model(_batch(model, h, w, device))
        else:
            model(_batch(model, 64, 64, device))
        batch = _batch(model, h, w, device)
        times = []
        for _ in range(repeat):
            _sync(device)
            t0 = time.perf_counter()
            model(batch)
            _sync(device)
            times.append(time.perf_counter() - t0)
    return min(times)


def bench_dcn(device, repeat, shape=(1, 256, 90, 160)):
    """Pure vs torchvision DCN at GyroDeblurNet's bottleneck shape (720p): forward, and forward+backward."""
    B, C, H, W = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(device)
    off = (torch.randn(B, 18, H, W, generator=g) * 2).to(device)
    mask = (2 * torch.rand(B, 9, H, W, generator=g)).to(device)
    wt = (torch.randn(C, C, 3, 3, generator=g) * 0.02).to(device)
    out = {"shape": list(shape), "device": str(device)}
    backends = ["torch"] + (["torchvision"] if dcn.torchvision_available() else [])
    for be in backends:
        for mode in ("fwd", "fwd+bwd"):
            ts = []
            for i in range(repeat + 1):
                xi, oi, mi, wi = (t.clone().requires_grad_(mode != "fwd") for t in (x, off, mask, wt))
                _sync(device)
                t0 = time.perf_counter()
                with torch.set_grad_enabled(mode != "fwd"):
                    y = dcn.modulated_deform_conv2d(xi, oi, wi, None, 1, 1, 1, mi, backend=be)
                    if mode != "fwd":
                        y.sum().backward()
                _sync(device)
                if i:  # the first call is a warm-up
                    ts.append(time.perf_counter() - t0)
            out[f"{be}_{mode}_s"] = min(ts)
    if "torchvision_fwd_s" in out:
        out["ratio_fwd"] = out["torch_fwd_s"] / out["torchvision_fwd_s"]
        out["ratio_fwd+bwd"] = out["torch_fwd+bwd_s"] / out["torchvision_fwd+bwd_s"]
        a = dcn.deform_conv2d_pure(x, off, wt, None, 1, 1, 1, mask)
        from torchvision.ops import deform_conv2d as tv

        out["max_abs_diff"] = float((a - tv(x, off, wt, None, (1, 1), (1, 1), (1, 1), mask)).abs().max())
    else:
        out["note"] = f"torchvision unavailable: {dcn._TV_STATE.get('why', '')}"
    out["torch_version"] = torch.__version__
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--models", nargs="*", help="registry names (default: every learned model, plus nafnet width=64)"
    )
    p.add_argument("--size", default="1280x720")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--no-width64", action="store_true", help="skip NAFNet width 64")
    p.add_argument("--dcn-only", action="store_true", help="only the DCN comparison; print JSON")
    p.add_argument("--iqa-python", default=str(ROOT / ".venv-iqa" / "bin" / "python"))
    p.add_argument("--out", default=str(RESULTS / "bench_models"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    w, h = (int(v) for v in args.size.split("x"))

    if args.dcn_only:
        print(json.dumps(bench_dcn(device, args.repeat)))
        return 0

    dcn_row = bench_dcn(device, args.repeat)
    if "ratio_fwd" not in dcn_row and Path(args.iqa_python).exists():
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        res = subprocess.run(
            [
                args.iqa_python,
                __file__,
                "--dcn-only",
                "--device",
                args.device,
                "--threads",
                str(args.threads),
                "--repeat",
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        if res.returncode == 0:
            dcn_row = {**json.loads(res.stdout.strip().splitlines()[-1]), "interpreter": args.iqa_python}
        else:
            dcn_row["note"] += f"; {args.iqa_python} failed: {res.stderr.strip().splitlines()[-1:]}"

    models = available()
    names = args.models or [n for n, m in models.items() if m.learned]
    runs = [(n, {}) for n in names]
    if "nafnet" in names and not args.no_width64:
        runs.append(("nafnet", {"width": 64}))
    rows = []
    for name, opts in runs:
        cx = model_complexity(name, opts, (h, w))
        try:
            t = time_model(name, opts, h, w, device, args.repeat, args.warmup)
            err = ""
        except Exception as exc:  # report, keep going
            t, err = None, f"{type(exc).__name__}: {exc}"[:200]
        rows.append(
            {
                "model": name,
                "options": opts,
                "uses_gyro": cx.uses_gyro,
                "params": cx.params,
                "gmacs": cx.gmacs,
                "forward_s": t,
                "error": err,
            }
        )
        print(
            f"{name} {opts}: {t if t is None else round(t, 2)} s, {cx.gmacs and round(cx.gmacs, 1)} GMAC {err}",
            flush=True,
        )

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    record = {
        "benchmark": "bench_models",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": [h, w],
        "device": str(device),
        "threads": args.threads,
        "repeat": args.repeat,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg_at_end": load,
        "models": rows,
        "dcn": dcn_row,
        "reference": "ENVIRONMENT.md: official GyroDeblurNet forward ~25 s, official NAFNet-w32 ~16 s "
        "(2 threads, 1280x720, this machine type)",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    lines = [
        f"# bench_models ({record['date']}, {device}, {args.threads} threads, load avg at end {load})",
        "",
        f"| model | options | gyro | params | GMACs@{w}x{h} | forward s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        opts = ",".join(f"{k}={v}" for k, v in r["options"].items()) or "default"
        g = "-" if r["gmacs"] is None else f"{r['gmacs']:.1f}"
        t = r["error"] or "-" if r["forward_s"] is None else f"{r['forward_s']:.2f}"
        lines.append(f"| {r['model']} | {opts} | {r['uses_gyro']} | {r['params']:,} | {g} | {t} |")
    lines += ["", f"DCN at {dcn_row['shape']} ({dcn_row['device']}, torch {dcn_row.get('torch_version')}):"]
    for k, v in dcn_row.items():
        if k.endswith("_s") or k.startswith("ratio") or k in ("max_abs_diff", "note"):
            lines.append(f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}")
    lines.append("")
    lines.append(record["reference"])
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
