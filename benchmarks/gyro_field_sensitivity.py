"""How far the field gets into a GyroDeblurNet: per checkpoint, the relative change of each gyro-branch feature
when a validation image's field is swapped for another sample's, and the largest change of the output (issue 22,
docs/gyro-path.md). On demand; CPU; a few seconds per checkpoint at 480².

    python benchmarks/gyro_field_sensitivity.py RUN_DIR_OR_CHECKPOINTS... --data out/study/cpu-gyro-path/data

A run folder stands for its ``checkpoints/step-*.pt``. Columns: ``intro`` (``intro_gyro``), ``grb1``/``grb2``
(gyro refinement blocks), ``guide`` (the gyro feature the first GDB reads, after ``gyro_norm`` if on): mean
|f(own) − f(other)| / mean |f(own)|; ``|grb2|`` the mean magnitude; ``max|dy|`` the output's largest change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gyrobench.data.dataset import ShardDataset, collate
from gyrobench.train.checkpoint import model_from_checkpoint


def sensitivity(net, image: torch.Tensor, own: torch.Tensor, other: torch.Tensor) -> dict[str, float]:
    """Relative feature changes and the output's largest change when ``own`` is replaced by ``other``."""
    feats: dict[str, list] = {}

    def keep(name):
        return lambda m, a, o: feats.setdefault(name, []).append(o)

    hooks = [net.intro_gyro.register_forward_hook(keep("intro"))]
    hooks += [net.gyro_refine_blks[i].register_forward_hook(keep(f"grb{i}")) for i in (1, 2)]
    hooks.append(net.gyro_deblurring_blks[0].register_forward_pre_hook(
        lambda m, a: feats.setdefault("guide", []).append(a[1])))
    with torch.no_grad():
        ys = [net({"blurred": image, "cmf_noisy": f, "cmf_clean": f, "alpha": 1.0}) for f in (own, other)]
    for h in hooks:
        h.remove()
    out = {k: float((v[0] - v[1]).abs().mean() / v[0].abs().mean().clamp_min(1e-30)) for k, v in feats.items()}
    out["|grb2|"] = float(feats["grb2"][0].abs().mean())
    out["max|dy|"] = float((ys[0] - ys[1]).abs().max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", type=Path, help="checkpoints, or run folders (their checkpoints/step-*.pt)")
    ap.add_argument("--data", type=Path, required=True, help="dataset folder with a 'val' split")
    ap.add_argument("--split", default="val")
    ap.add_argument("--pair", type=int, nargs=2, default=(0, 2), help="own and other sample index")
    args = ap.parse_args()
    ds = ShardDataset(args.data, split=args.split, crop=None, fields=True)
    a, b = (collate([ds[i]]) for i in args.pair)
    ckpts = [c for p in args.paths for c in (sorted(p.glob("checkpoints/step-*.pt")) if p.is_dir() else [p])]
    for c in ckpts:
        net = model_from_checkpoint(c)
        net = (net[0] if isinstance(net, tuple) else net).eval()
        s = sensitivity(net, a["blurred"], a["cmf_noisy"], b["cmf_noisy"])
        print(c, " ".join(f"{k}={v:.3g}" for k, v in s.items()))


if __name__ == "__main__":
    main()
