"""Does a published board reproduce the paper's orderings? Paired per-image differences between its rows.

For two rows A and B of a board scored on the same test split, the difference is taken image by image (the same
images, so the spread of image difficulty cancels): per image, the PSNR of each row averaged over its seeds, then
``d_i = PSNR_A,i − PSNR_B,i``; the table gives the mean of ``d`` and its 95 % t-interval over the images, and, where
both rows have several seeds, the standard deviation over seeds of the row means (what one seed would not show).
A paper ordering "A above B" is *reproduced* when the interval lies above 0, *reversed* when below, and *not
resolved* when it contains 0 (*not on the board* when the board lacks a row).

The paper's ablation numbers (:data:`PAPER_ABLATIONS`) are those of ``docs/gyro-path.md`` ("The paper's ablation
table"): secondary notes, not read from the paper itself.

``gyrobench study --publish`` writes ``orderings.md`` and ``orderings.csv`` into every board that holds at least one
of the paper's pairs; on a board published before, run::

    python -m gyrobench.study.orderings leaderboard/cpu-ablation
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from ..errors import GyrobenchError
from ..io import write_text_atomic

__all__ = ["PAPER_ABLATIONS", "PAPER_ORDERINGS", "Ordering", "board_psnr", "paired", "orderings_table",
           "write_orderings", "main"]

#: GyroBlur-Synth PSNR (dB) of the paper's ablations, spec §7 — secondary notes [S], not the paper's own table
PAPER_ABLATIONS: dict[str, float] = {"(a)": 24.90, "(b)": 24.94, "(c)": 25.47, "(d)": 26.17, "(e)": 26.32,
                                     "(f)": 26.94, "(g)": 27.28, "M = 2": 25.71, "M = 16": 27.32}
#: (row above, row below) in the paper: the chain (a) < ... < (g), the M ablation, and (g) against (a)
PAPER_ORDERINGS: tuple[tuple[str, str], ...] = (
    ("(b)", "(a)"), ("(c)", "(b)"), ("(d)", "(c)"), ("(e)", "(d)"), ("(f)", "(e)"), ("(g)", "(f)"), ("(g)", "(a)"),
    ("(g)", "M = 2"), ("M = 16", "(g)"),
)
_SEED = re.compile(r"\s*·\s*seed\s+\d+\s*$")


@dataclass(frozen=True)
class Ordering:
    above: str
    below: str
    paper_db: float | None
    ours_db: float
    ci95: tuple[float, float]
    images: int
    seeds: tuple[int, int]
    seed_sd_db: float | None
    verdict: str


def board_psnr(board: Path, split: str = "test") -> dict[str, pd.DataFrame]:
    """Per run label (gyro field as trained, not the extra evaluations): a frame of per-image PSNR, one column per
    seed, indexed by sample id, read from ``records/runs/*/seed-*/eval/<split>/``."""
    out: dict[str, dict[int, pd.Series]] = {}
    for res in sorted((board / "records" / "runs").glob(f"*/seed-*/eval/{split}/results.json")):
        rec = json.loads(res.read_text(encoding="utf-8"))
        label = _SEED.sub("", rec["label"])
        seed = int(res.parents[2].name.removeprefix("seed-"))
        per = pd.read_csv(res.parent / rec.get("per_image_csv", "per_image.csv"), index_col="sample_id")
        out.setdefault(label, {})[seed] = per["psnr"]
    if not out:
        raise GyrobenchError(f"{board}: no records/runs/*/seed-*/eval/{split}/results.json; give a published study "
                             f"board (gyrobench study ... --publish BOARD)")
    return {label: pd.DataFrame(seeds).sort_index(axis=1) for label, seeds in out.items()}


def paired(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, tuple[float, float], int, float | None]:
    """Mean per-image difference of the seed-averaged PSNR of ``a`` and ``b``, its 95 % t-interval over the common
    images, their number, and the standard deviation over seeds of the difference of row means (None unless both
    have at least two seeds)."""
    common = a.index.intersection(b.index)
    if len(common) < 2:
        raise GyrobenchError(f"paired difference needs at least 2 common images, got {len(common)}")
    d = (a.loc[common].mean(axis=1) - b.loc[common].mean(axis=1)).to_numpy(dtype=float)
    mean = float(d.mean())
    half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    sd = None
    if a.shape[1] >= 2 and b.shape[1] >= 2:
        sd = float(math.sqrt(a.loc[common].mean(axis=0).var(ddof=1) + b.loc[common].mean(axis=0).var(ddof=1)))
    return mean, (mean - half, mean + half), len(d), sd


def _row(rows: dict[str, pd.DataFrame], tag: str) -> tuple[str, pd.DataFrame] | None:
    """The one row whose label is ``tag`` or starts with ``tag`` and a space; None if there is none."""
    hits = [label for label in rows if label == tag or label.startswith(tag + " ")]
    if len(hits) > 1:
        raise GyrobenchError(f"board has {len(hits)} rows for {tag!r} ({', '.join(hits)}); rows: {', '.join(rows)}")
    return (hits[0], rows[hits[0]]) if hits else None


def orderings_table(board: Path, split: str = "test",
                    pairs: tuple[tuple[str, str], ...] = PAPER_ORDERINGS) -> list[Ordering]:
    """Every paper ordering of ``pairs`` (row tags) measured on ``board`` (module docstring)."""
    rows = board_psnr(board, split)
    out = []
    for above, below in pairs:
        ra, rb = _row(rows, above), _row(rows, below)
        if ra is None or rb is None:
            nan = float("nan")
            out.append(Ordering(above, below, None, nan, (nan, nan), 0, (0, 0), None, "not on the board"))
            continue
        (la, a), (lb, b) = ra, rb
        mean, ci, n, sd = paired(a, b)
        paper = (PAPER_ABLATIONS[above] - PAPER_ABLATIONS[below]
                 if above in PAPER_ABLATIONS and below in PAPER_ABLATIONS else None)
        verdict = "reproduced" if ci[0] > 0 else "reversed" if ci[1] < 0 else "not resolved"
        out.append(Ordering(la, lb, paper, mean, ci, n, (a.shape[1], b.shape[1]), sd, verdict))
    return out


def _markdown(board: Path, split: str, table: list[Ordering]) -> str:
    lines = [f"# Paper orderings on `{board.name}` (split `{split}`)", "",
             "Paired per-image PSNR differences (dB; seeds averaged per image), 95 % t-interval over the images. "
             "Paper: GyroBlur-Synth differences from the spec's secondary notes [S] (not read from the paper). "
             "Made by `python -m gyrobench.study.orderings " + str(board) + "` (gyrobench.study.orderings).", "",
             "| paper: above | paper: below | paper Δ [S] | ours Δ | 95 % interval | images | seeds | seed sd | "
             "ordering |", "|---|---|---|---|---|---|---|---|---|"]
    for o in table:
        paper = f"{o.paper_db:+.2f}" if o.paper_db is not None else "—"
        sd = f"{o.seed_sd_db:.2f}" if o.seed_sd_db is not None else "—"
        lines.append(f"| {o.above} | {o.below} | {paper} | {o.ours_db:+.3f} | [{o.ci95[0]:+.3f}, {o.ci95[1]:+.3f}] | "
                     f"{o.images} | {o.seeds[0]}, {o.seeds[1]} | {sd} | {o.verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gyrobench.study.orderings", description=__doc__.splitlines()[0])
    ap.add_argument("board", type=Path, help="a published study board (leaderboard/NAME)")
    ap.add_argument("--split", default="test", help="test split label of the board (default: test)")
    args = ap.parse_args(argv)
    try:
        table = orderings_table(args.board, args.split)
    except GyrobenchError as exc:
        raise SystemExit(f"gyrobench orderings: error: {exc}") from None
    write_orderings(args.board, args.split, table)
    print((args.board / "orderings.md").read_text(encoding="utf-8"), end="")
    return 0


def write_orderings(board: Path, split: str = "test", table: list[Ordering] | None = None) -> dict[str, Path]:
    """Write ``orderings.md`` and ``orderings.csv`` into ``board`` when at least one paper ordering is on it (the
    study publisher calls this for every board; a board without the paper's ablation rows gets nothing)."""
    table = orderings_table(board, split) if table is None else table
    if all(o.verdict == "not on the board" for o in table):
        return {}
    frame = pd.DataFrame([{"above": o.above, "below": o.below, "paper_db": o.paper_db, "ours_db": o.ours_db,
                           "ci95_low": o.ci95[0], "ci95_high": o.ci95[1], "images": o.images,
                           "seeds_above": o.seeds[0], "seeds_below": o.seeds[1], "seed_sd_db": o.seed_sd_db,
                           "verdict": o.verdict} for o in table])
    return {"orderings_md": write_text_atomic(board / "orderings.md", _markdown(board, split, table)),
            "orderings_csv": write_text_atomic(board / "orderings.csv", frame.to_csv(index=False))}


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

