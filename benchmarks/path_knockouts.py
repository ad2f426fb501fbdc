"""What each depth of a GyroDeblurNet or NAFNet carries as training goes on (issue 22, docs/gyro-path.md): for every
checkpoint of a run, the PSNR change when each path is cut (``gyrobench health --paths``) and when the field is
swapped for another sample's (gyro models), as one Markdown table. On demand; CPU; each cut is one pass over the
split: 23 s for the six passes of one small GyroDeblurNet on 12 images at 480² (2-core AMD EPYC, idle, 2026-12-08).

    python benchmarks/path_knockouts.py RUN_DIR_OR_CHECKPOINTS... --data out/study/cpu-long/data --split val

A run folder stands for its ``checkpoints/step-*.pt``. Cells: mean paired change over images (dB) of the cut model
against the intact one; the last column, for gyro models, the same with the field of sample (i + 1) mod n.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gyrobench.evaluate.config import EvalConfig
from gyrobench.evaluate.knockout import path_knockouts


def _name(c: Path) -> str:
    """``RUN/seed-N/step`` for a study run's checkpoint, ``FOLDER/stem`` otherwise."""
    if c.parent.name == "checkpoints" and c.parent.parent.name.startswith("seed-"):
        return f"{c.parents[2].name}/{c.parents[1].name}/{c.stem}"
    return f"{c.parent.name}/{c.stem}"


def table(ckpts: list[Path], data: Path, split: str, limit: int | None) -> str:
    results, head = [], []
    for c in ckpts:
        cfg = EvalConfig(data=str(data), checkpoint=str(c), split=split, limit=limit, device="cpu")
        _, intact, cuts = path_knockouts(cfg)
        results.append((c, intact, {k.cut: k.delta_db for k in cuts}))
        head += [k.cut for k in cuts if k.cut not in head]
    lines = ["| checkpoint | PSNR intact | " + " | ".join(head) + " |", "|---" * (len(head) + 2) + "|"]
    lines += [f"| {_name(c)} | {intact:.3f} | " + " | ".join(f"{cells[k]:+.3f}" if k in cells else "" for k in head)
              + " |" for c, intact, cells in results]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", type=Path, help="checkpoints, or run folders (their checkpoints/step-*.pt)")
    ap.add_argument("--data", type=Path, required=True, help="dataset folder")
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=None, help="at most N images")
    args = ap.parse_args()
    ckpts = [c for p in args.paths for c in (sorted(p.glob("checkpoints/step-*.pt")) if p.is_dir() else [p])]
    print(table(ckpts, args.data, args.split, args.limit))


if __name__ == "__main__":
    main()
