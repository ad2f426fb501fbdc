"""The study table (``table.md`` / ``table.csv``): deterministic text.

Only deterministic facts go in: labels, options, parameter and GMAC counts, budget rule and step counts, the
metric cells, sha256 of the suite, recipe, data (shard contents) and final checkpoints (path-independent, see
:mod:`gyrobench.study.runner`), and the command. Measured times are in ``timing.md``/``study.json``. The same
suite and seeds on the same machine type therefore give byte-identical tables (tested on CPU) under the
``steps`` and ``gmacs`` rules; under the ``time`` rule the step counts come from a timed calibration.
"""

from __future__ import annotations

import csv
import io
import json
import math

from ..leaderboard.tables import DISPLAY, fmt
from .aggregate import Row, bin_label

__all__ = ["budget_sentence", "ranked", "markdown", "csv_text"]

_LOWER_BETTER = {"niqe"}


def budget_sentence(budget: dict) -> str:
    rule = budget["rule"]
    if rule == "steps":
        return f"equal optimizer steps: {budget['steps']} steps per run"
    if rule == "gmacs":
        return (f"equal forward GMAC x samples: {budget['gmac_budget']:.6g} GMAC per run (forward GMACs of one "
                "training crop x batch size x steps; steps = floor(budget / (GMAC per crop x batch)))")
    return (f"equal wall-clock: {budget['seconds']:g} s of training per run (validation and checkpoint writes "
            "excluded); each run's step count (its cosine schedule length) comes from a timed calibration and "
            "the run stops at the time limit")


def ranked(rows: list[Row]) -> list[Row]:
    """Best PSNR first; ties by label."""
    def key(r: Row):
        c = r.metrics.get("psnr")
        return (0, -c.mean, r.label) if c is not None else (1, 0.0, r.label)

    return sorted(rows, key=key)


def _cell(m: str, c) -> str:
    if c is None:
        return "n/a"
    s = fmt(m, c.mean)
    if c.lo is not None:
        s += f" [{fmt(m, c.lo)}, {fmt(m, c.hi)}]"
    return s


def _steps(r: Row) -> str:
    if not r.steps:
        return "—"
    lo, hi = min(r.steps), max(r.steps)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def deform_cell(d: tuple[int, int, float] | None) -> str:
    """``alive (min 97.8 % inside)`` / ``DEAD 1 of 3 (0.0 % inside)`` / ``—`` (no deformable layer)."""
    if d is None:
        return "—"
    dead, n, inside = d
    return (f"DEAD {dead} of {n} ({100 * inside:.1f} % inside)" if dead
            else f"alive (min {100 * inside:.1f} % inside)")


def _md(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _num(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}"


def markdown(info: dict, splits: dict[str, list[Row]], edges: dict[str, list[float]], models: dict) -> str:
    """``info``: study facts (see runner); ``splits``: rows per test split; ``edges``: blur bins per split;
    ``models``: per run label ``{params, gmacs_per_crop, crop}``."""
    over = ("mean over seeds [95 % t-interval across seeds, n = {}]".format(len(info["seeds"]))
            if len(info["seeds"]) > 1 else "mean over test images [95 % interval over images] (one seed)")
    L = [
        f"# Study `{info['name']}`",
        "",
        f"Command: `{info['command']}`",
        "",
        f"- Suite: `{info['suite']}` (sha256 `{info['suite_sha256'][:16]}`); gyrobench {info['version']}.",
        f"- Dataset: recipe `{info['recipe']}` (recipe sha256 `{info['recipe_sha256'][:16]}`), data sha256 "
        f"`{info['data_sha256'][:16]}` (shard contents); validation: split `{info['validation']['split']}`, "
        f"{info['validation']['images']} image(s); test: " + ", ".join(f"`{s}`" for s in splits) + ".",
        f"- Budget rule: {budget_sentence(info['budget'])}.",
        f"- Seeds: {', '.join(map(str, info['seeds']))}. Learned rows: {over}; reference rows are deterministic.",
        f"- Protocol `{info['protocol']}`; gyro models get the noisy test fields unless the *test fields* column "
        "says otherwise. ΔPSNR: against the blurred input on the same split. Params and GMAC at the training "
        "crop (one crop, forward).",
        "",
    ]
    for split, rows in splits.items():
        e = edges[split]
        heads = (["#", "row", "model", "gyro", "test fields", "params", "GMAC/crop", "steps", "deform. blocks"]
                 + [f"{DISPLAY.get(m, m)} {'↓' if m in _LOWER_BETTER else '↑'}" for m in info["metrics"]]
                 + ["ΔPSNR"] + [f"PSNR {bin_label(lo, hi)}" for lo, hi in zip(e, e[1:])])
        n_img = info["test"][split]["images"]
        L += [f"## Test split `{split}` ({n_img} images; blur extent median "
              f"{info['test'][split]['extent_median']:.1f} px, max {info['test'][split]['extent_max']:.1f} px)", "",
              "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        ref = next((r for r in rows if r.model == "identity"), None)
        ref_psnr = ref.metrics["psnr"].mean if ref is not None and "psnr" in ref.metrics else None
        for rank, r in enumerate(ranked(rows), 1):
            mi = models.get(r.run or "", {})
            cells = [str(rank), _md(r.label), r.model, "yes" if r.uses_gyro else "no",
                     r.gyro_field if r.uses_gyro else "—",
                     f"{mi['params']:,}" if mi.get("params") else "—", _num(mi.get("gmacs_per_crop")), _steps(r),
                     deform_cell(r.deform)]
            cells += [_cell(m, r.metrics.get(m)) for m in info["metrics"]]
            p = r.metrics.get("psnr")
            cells.append(f"{p.mean - ref_psnr:+.2f}" if p is not None and ref_psnr is not None else "—")
            cells += [f"{_num(v, 2)} ({n})" for v, n in r.bins]
            L.append("| " + " | ".join(cells) + " |")
        L += ["", "Bins: blur extent = path length of the image-centre trajectory (px); cells: mean PSNR (images). "
              "Deform. blocks: the deformable layers' health on this split (`gyrobench health`, docs/models.md): "
              "alive or dead, and the smallest fraction of sampling points inside the feature map.", ""]
    L += ["## Traceability", "", "| run | seed | steps | checkpoint | checkpoint sha256 | config sha256 |",
          "|---|---|---|---|---|---|"]
    for u in info["units"]:
        L.append(f"| {_md(u['label'])} | {u['seed']} | {u['steps']} | `{u['checkpoint']}` | "
                 f"`{u['checkpoint_sha256'][:16]}` | `{u['config_sha256'][:16]}` |")
    L += ["", "Checkpoints hold the weights, model options, training config and data hashes (no optimizer "
          "state); re-evaluate a row with `gyrobench eval --checkpoint CHECKPOINT --data DATA --split "
          "SPLIT` on the data of the recipe above (`gyrobench synth`).", ""]
    return "\n".join(L)


def csv_text(info: dict, splits: dict[str, list[Row]], edges: dict[str, list[float]], models: dict) -> str:
    metrics = list(info["metrics"])
    nb = max((len(e) - 1 for e in edges.values()), default=0)
    head = ["split", "rank", "label", "kind", "run", "model", "options", "uses_gyro", "test_fields", "params",
            "gmacs_per_crop", "crop", "budget_rule", "steps", "seeds", "interval_over", "deform_dead",
            "deform_layers", "deform_min_inside"]
    for m in metrics:
        head += [f"{m}_mean", f"{m}_ci95_lo", f"{m}_ci95_hi", f"{m}_n"]
    head += ["delta_psnr"]
    for j in range(nb):
        head += [f"bin{j}_lo_px", f"bin{j}_hi_px", f"bin{j}_psnr", f"bin{j}_images"]
    head += ["checkpoint_sha256", "data_sha256", "recipe_sha256", "suite_sha256", "command"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for split, rows in splits.items():
        ref = next((r for r in rows if r.model == "identity"), None)
        ref_psnr = ref.metrics["psnr"].mean if ref is not None and "psnr" in ref.metrics else None
        e = edges[split]
        for rank, r in enumerate(ranked(rows), 1):
            mi = models.get(r.run or "", {})
            psnr = r.metrics.get("psnr")
            row = [split, rank, r.label, r.kind, r.run or "", r.model, json.dumps(r.options, sort_keys=True),
                   int(r.uses_gyro), r.gyro_field, mi.get("params") or "", _rep(mi.get("gmacs_per_crop")),
                   mi.get("crop") or "", info["budget"]["rule"] if r.kind != "reference" else "",
                   ";".join(map(str, r.steps)), ";".join(map(str, r.seeds)),
                   psnr.over if psnr is not None else ""]
            row += [r.deform[0], r.deform[1], _rep(r.deform[2])] if r.deform else ["", "", ""]
            for m in metrics:
                c = r.metrics.get(m)
                row += [_rep(c.mean), _rep(c.lo), _rep(c.hi), c.n] if c is not None else ["", "", "", ""]
            row.append(_rep(psnr.mean - ref_psnr) if psnr is not None and ref_psnr is not None else "")
            for j in range(nb):
                if j < len(e) - 1:
                    v, n = r.bins[j]
                    row += [_rep(e[j]), _rep(e[j + 1]), _rep(v), n]
                else:
                    row += ["", "", "", ""]
            row += [";".join(r.weights), info["data_sha256"], info["recipe_sha256"], info["suite_sha256"],
                    info["command"]]
            w.writerow(row)
    return buf.getvalue()


def _rep(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else ("inf" if math.isinf(v) else repr(v))
    return str(v)
