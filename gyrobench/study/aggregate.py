"""Study rows from evaluation records: means across seeds with 95 % intervals, PSNR per blur-extent bin.

A *row* is one model (a run, or a run's test-time variant such as shuffled fields, or a reference) on one test
split. With several seeds a cell is the mean over seeds of the per-seed means over test images, with the
Student-t 95 % interval across seeds (``n_seeds - 1`` degrees of freedom); with one seed it is that record's
mean with its 95 % interval over images. The table says which.

Blur-extent bins: ``blur_extent_px`` of each test image (path length of the image-centre trajectory, px; see
:func:`gyrobench.evaluate.outputs.field_path_length_px`) from the per-image CSV. Edges are the suite's ``blur_bins`` or, by
default, the tertiles of the split's extents rounded to 0.1 px (``[0, q1/3, q2/3, inf)``); a bin's cell is the
mean PSNR of its images (then the mean over seeds).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GyrobenchError
from ..results import mean_ci

__all__ = ["Cell", "Row", "read_per_image", "default_bins", "bin_label", "aggregate_row"]


@dataclass(frozen=True)
class Cell:
    """Mean and 95 % interval (``None`` where undefined); ``over``: ``"seeds"`` or ``"images"``."""

    mean: float
    lo: float | None
    hi: float | None
    n: int
    over: str


@dataclass
class Row:
    """One line of the study table."""

    split: str
    label: str
    kind: str  # "run", "variant", "reference"
    model: str
    options: dict
    uses_gyro: bool
    gyro_field: str
    metrics: dict[str, Cell] = field(default_factory=dict)
    bins: list[tuple[float, int]] = field(default_factory=list)  # (mean PSNR or nan, images) per bin
    seeds: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)  # checkpoint sha256 per seed
    run: str | None = None
    records: list[Path] = field(default_factory=list)
    #: deformable layers over every seed's record: (dead, total, smallest inside fraction); None: none recorded
    deform: tuple[int, int, float] | None = None


def read_per_image(record: dict, record_path: Path) -> list[dict]:
    """The per-image CSV of a results record as a list of dicts (floats where numeric)."""
    rel = record.get("per_image_csv")
    if not rel:
        raise GyrobenchError(f"{record_path}: field 'per_image_csv' is missing; re-run the evaluation")
    path = record_path.parent / rel
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out = {}
            for k, v in r.items():
                try:
                    out[k] = float(v)
                except (TypeError, ValueError):
                    out[k] = v
            rows.append(out)
    return rows


def default_bins(extents) -> list[float]:
    """``[0, q1/3, q2/3, inf]`` of ``extents`` (px), inner edges rounded to 0.1 px and made increasing."""
    e = np.asarray(extents, dtype=np.float64)
    if e.size == 0:
        raise GyrobenchError("no blur extents to bin")
    inner = sorted({round(float(q), 1) for q in np.quantile(e, [1 / 3, 2 / 3])} - {0.0})
    return [0.0, *inner, math.inf]


def bin_label(lo: float, hi: float) -> str:
    return f"[{lo:g}, {hi:g}) px" if math.isfinite(hi) else f">= {lo:g} px"


def _bin_means(per_image: list[dict], edges: list[float]) -> list[tuple[float, int]]:
    ext = np.array([r["blur_extent_px"] for r in per_image], dtype=np.float64)
    psnr = np.array([r["psnr"] for r in per_image], dtype=np.float64)
    out = []
    for lo, hi in zip(edges, edges[1:]):
        sel = (ext >= lo) & (ext < hi) & np.isfinite(psnr)
        out.append((float(psnr[sel].mean()) if sel.any() else math.nan, int(sel.sum())))
    return out


def aggregate_row(row: Row, records: list[tuple[dict, Path]], metrics: list[str], edges: list[float]) -> Row:
    """Fill ``row.metrics`` and ``row.bins`` from one record per seed (``[(record dict, path)]``)."""
    if not records:
        raise GyrobenchError(f"row '{row.label}' on split '{row.split}': no evaluation records")
    row.records = [p for _, p in records]
    layers = [h for rec, _ in records for h in (rec.get("deform_health") or [])]
    if layers:
        row.deform = (sum(bool(h.get("dead")) for h in layers), len(layers), min(float(h["inside"]) for h in layers))
    for m in metrics:
        vals = [rec["metrics"][m]["mean"] for rec, _ in records if m in (rec.get("metrics") or {})]
        if len(vals) != len(records):
            continue  # unavailable for some seed: left out (the leaderboard records say why)
        if len(vals) >= 2:
            mean, lo, hi = mean_ci(vals, "t")
            row.metrics[m] = Cell(mean, lo, hi, len(vals), "seeds")
        else:
            rec = records[0][0]["metrics"][m]
            ci = rec.get("ci95") or [None, None]
            row.metrics[m] = Cell(float(rec["mean"]), ci[0], ci[1], int(rec.get("n") or 0), "images")
    per_seed = [_bin_means(read_per_image(rec, path), edges) for rec, path in records]
    row.bins = []
    for j in range(len(edges) - 1):
        means = [b[j][0] for b in per_seed if math.isfinite(b[j][0])]
        row.bins.append((float(np.mean(means)) if means else math.nan, per_seed[0][j][1]))
    return row
