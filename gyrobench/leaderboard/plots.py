"""Leaderboard figures (matplotlib, Agg, object API; no pyplot global state).

- :func:`bar_chart`: per metric, the mean of each row as a point with its (asymmetric) 95 % interval as an
  error bar (points rather than filled bars because the axis does not start at zero).
- :func:`scatter_extent`: per-image metric against the blur extent (``blur_extent_px``, path length of the
  centre trajectory in px) read from each record's per-image CSV.
- :func:`crops_montage`: blurred / restored / sharp crops, one row per model (first crop of each record).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..log import get_logger
from .records import Record
from .tables import DISPLAY, Group, _direction, group_heading

log = get_logger("leaderboard")
_PNG_META = {"Software": None}  # keep the PNGs free of version strings


def _figure(w_in: float, h_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w_in, h_in), dpi=100, layout="constrained")


def bar_chart(group: Group, path: Path, metrics=("psnr", "ssim")) -> Path | None:
    shown = [m for m in metrics if any(m in r.metrics for r in group.rows)]
    if not shown:
        shown = [m for m in group.metrics if any(m in r.metrics for r in group.rows)][:2]
    if not shown:
        return None
    n = len(group.rows)
    fig = _figure(max(4.0, 1.2 + 0.55 * n) * len(shown), 3.6)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    labels = [r.label for r in group.rows]
    x = np.arange(n)
    colours = [f"C{i % 10}" for i in range(n)]
    for ax, m in zip(axes, shown):
        mean = np.array([r.metrics[m].mean if m in r.metrics else np.nan for r in group.rows])
        lo = np.array(
            [
                r.metrics[m].lo if m in r.metrics and r.metrics[m].lo is not None else np.nan
                for r in group.rows
            ]
        )
        hi = np.array(
            [
                r.metrics[m].hi if m in r.metrics and r.metrics[m].hi is not None else np.nan
                for r in group.rows
            ]
        )
        err = np.stack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
        # points with 95 % interval bars: the y axis need not start at 0, so no filled bars (they would
        # exaggerate differences on a truncated axis)
        for i in range(n):
            if np.isfinite(mean[i]):
                ax.errorbar(
                    x[i],
                    mean[i],
                    yerr=err[:, i : i + 1],
                    fmt="o",
                    color=colours[i],
                    capsize=5,
                    markersize=7,
                    elinewidth=2,
                )
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_xticks(x, labels, rotation=30, ha="right")
        arrow = "↓" if _direction(group.rows, m) else "↑"
        ax.set_title(f"{DISPLAY.get(m, m)} {arrow} (mean, 95 % CI)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(group_heading(group), fontsize=9)
    fig.savefig(path, metadata=_PNG_META)
    return path


def read_per_image(rec: Record) -> dict[str, np.ndarray] | None:
    """Columns of the record's per-image CSV as float arrays (``sample_id`` kept as strings), or None."""
    p = rec.resolve(rec.get("per_image_csv"))
    if p is None or not p.is_file():
        if p is not None:
            log.warning("%s: per-image CSV %s not found; no scatter points for %s", rec.path, p, rec.label)
        return None
    with open(p, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return None
    out: dict[str, np.ndarray] = {}
    for k in rows[0]:
        vals = [row[k] for row in rows]
        try:
            out[k] = np.array([float(v) if v not in ("", None) else np.nan for v in vals])
        except ValueError:
            out[k] = np.array(vals, dtype=object)
    return out


def scatter_extent(group: Group, path: Path, metric: str | None = None) -> Path | None:
    metric = metric or group.primary
    series = []
    for i, r in enumerate(group.rows):
        d = read_per_image(r)
        if d is None or "blur_extent_px" not in d or metric not in d:
            continue
        series.append((i, r.label, d["blur_extent_px"], d[metric]))
    if not series:
        return None
    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    markers = "os^Dv<>phX"
    for i, label, x, y in series:
        ax.scatter(x, y, s=14, alpha=0.7, marker=markers[i % len(markers)], color=f"C{i % 10}", label=label)
    ax.set_xlabel("blur extent (path length of the centre trajectory, px)")
    ax.set_ylabel(f"{DISPLAY.get(metric, metric)} per image")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"per-image {DISPLAY.get(metric, metric)} vs blur extent", fontsize=10)
    fig.savefig(path, metadata=_PNG_META)
    return path


def crops_montage(group: Group, crops: dict[int, list[dict]], path: Path) -> Path | None:
    """``crops[rank] = [{sample_id, blurred, restored, sharp} as absolute Paths]``; first crop per row."""
    import cv2

    rows = [(rank, r.label, crops[rank][0]) for rank, r in enumerate(group.rows, 1) if crops.get(rank)]
    if not rows:
        return None
    kinds = ("blurred", "restored", "sharp")
    fig = _figure(7.5, 2.4 * len(rows) + 0.3)
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for (rank, label, c), ax_row in zip(rows, axes):
        for kind, ax in zip(kinds, ax_row):
            ax.set_axis_off()
            p = c.get(kind)
            img = cv2.imread(str(p), cv2.IMREAD_COLOR) if p else None
            if img is not None:
                ax.imshow(img[..., ::-1], interpolation="nearest")
            ax.set_title(
                f"{rank}. {label}: {kind}" if kind == "restored" else f"{kind} ({c.get('sample_id')})",
                fontsize=8,
            )
    fig.savefig(path, metadata=_PNG_META)
    return path
