"""Numerical fingerprints of a CPU run: which library settings change the last bits (docs/cpu-study.md,
"Reproducibility").

Two sha256 fingerprints, each a pure function of the code and the numerics of this machine:
- ``synth``: the arrays of the first two samples of the CPU study's ``val`` split (``studies/cpu-data.yaml``: Kodak
  image 5, the demo camera, the fitted hand-shake, the official degradation), as the stored path makes them;
- ``train``: the weights of NAFNet small after 10 Adam steps on seeded random 64x64 tensors (convolutions,
  LayerNorm, the simple gate, the channel attention's matrix products).

By default (``--matrix``) it reruns itself in a fresh interpreter per setting (one environment variable each:
torch's kernel level ``ATEN_CPU_CAPABILITY``, oneDNN's ``ONEDNN_MAX_CPU_ISA``, MKL's ``MKL_CBWR``, ...) and
tabulates which settings change which fingerprint. Run the same command on two machines and compare the tables:
equal fingerprints mean bit-identical synthesis or training under that setting.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fingerprint.py`` (about 45 s on one core). Saves
``benchmarks/results/bench_fingerprint.{json,md}``; ``--one`` prints this interpreter's two fingerprints as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (label, environment overrides); the last one is the cross-vendor candidate of docs/cpu-study.md
SETTINGS = [
    ("default", {}),
    ("ATEN_CPU_CAPABILITY=avx2", {"ATEN_CPU_CAPABILITY": "avx2"}),
    ("ATEN_CPU_CAPABILITY=default", {"ATEN_CPU_CAPABILITY": "default"}),
    ("ONEDNN_MAX_CPU_ISA=AVX2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    ("MKL_CBWR=AVX2", {"MKL_CBWR": "AVX2"}),
    ("MKL_CBWR=COMPATIBLE", {"MKL_CBWR": "COMPATIBLE"}),
    ("MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=AVX2", {"MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"}),
]


def _digest(chunks) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()[:16]


def synth_fingerprint(samples: int = 2) -> str:
    """sha256 over the arrays (sorted keys) of the first ``samples`` samples of the study's ``val`` split."""
    import numpy as np

    from gyrobench.builder.pipeline import synthesize_sample
    from gyrobench.builder.recipe import load_recipe

    recipe = load_recipe(ROOT / "studies" / "cpu-data.yaml")
    split = next(s for s in recipe.splits if s.name == "val")
    chunks = []
    for i in range(samples):
        arrays = synthesize_sample(recipe, split, i, renderer="opencv")
        for key in sorted(arrays):
            value = arrays[key]
            if isinstance(value, np.ndarray) and value.dtype != object:
                chunks.append(key.encode() + np.ascontiguousarray(value).tobytes())
    return _digest(chunks)


def train_fingerprint(steps: int = 10) -> str:
    """sha256 of NAFNet small's weights after ``steps`` Adam steps on seeded random tensors."""
    import torch

    from gyrobench.models.registry import build
    from gyrobench.models.small import small_options

    torch.manual_seed(0)
    model = build("nafnet", **small_options("nafnet"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64)
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    return _digest(p.detach().numpy().tobytes() for p in model.parameters())


def one() -> dict:
    from gyrobench.provenance import machine

    return {"synth": synth_fingerprint(), "train": train_fingerprint(), "machine": machine()}


def matrix() -> dict:
    rows = []
    for label, env in SETTINGS:
        full = {**os.environ, **env}
        out = subprocess.run([sys.executable, __file__, "--one"], env=full, capture_output=True, text=True,
                             check=True, cwd=ROOT)
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"setting": label, **rec})
        print(f"{label}: synth {rec['synth']} train {rec['train']}", file=sys.stderr)
    return {"rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", action="store_true", help="print this interpreter's fingerprints as JSON")
    ap.add_argument("--matrix", action="store_true", help="fingerprints under each setting (the default)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one()))
        return
    from _report import save_report

    rec = matrix()
    base = rec["rows"][0]
    m = base["machine"]
    lines = [
        "# Numerical fingerprints (benchmarks/bench_fingerprint.py --matrix)",
        "",
        f"Machine: {m.get('cpu_model')} ({m.get('cpus')} CPUs, torch kernels {m.get('torch_cpu_capability')}, "
        f"{m.get('torch_threads')} torch thread(s)). A cell is the sha256 prefix; '= default' marks a setting that "
        "leaves the bits unchanged.",
        "",
        "| setting | synth (2 samples of the study's val split) | train (10 Adam steps, NAFNet small) |",
        "|---|---|---|",
    ]
    for r in rec["rows"]:
        cells = [r[k] + (" (= default)" if r is not base and r[k] == base[k] else "") for k in ("synth", "train")]
        lines.append(f"| {r['setting']} | `{cells[0]}` | `{cells[1]}` |")
    save_report(args.out, "bench_fingerprint", rec, "\n".join(lines))


if __name__ == "__main__":
    main()
