"""Leaderboard tables from results records: Markdown, CSV and LaTeX (deterministic text).

Same records (same bytes) + same gyrobench version -> byte-identical ``table.md``, ``table.csv``, ``table.tex``:
no wall-clock dates (only the records' own dates), sorted groups and rows, fixed number formats, ``\\n`` line ends.

Ranking: records are grouped by (dataset fingerprint, split, protocol, gyro field) — numbers from
different test sets, splits, protocols or clean/noisy test fields are never ranked together. Within a group rows are sorted by the primary metric (``psnr`` where
present, else the first metric in :data:`METRIC_ORDER` / alphabetical), best first, respecting each metric's
``lower_better``; ties by label, then record sha256.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from .records import Record

LEADERBOARD_VERSION = "gyrobench-leaderboard/1"
METRIC_ORDER = ("psnr", "ssim", "niqe", "topiq_nr")
DECIMALS = {"psnr": 2, "ssim": 4, "niqe": 3, "topiq_nr": 3}
DISPLAY = {"psnr": "PSNR", "ssim": "SSIM", "niqe": "NIQE", "topiq_nr": "TOPIQ-NR"}


@dataclass(frozen=True)
class Group:
    """Records ranked together: same dataset content (fingerprint), split, protocol and gyro field."""

    index: int
    dataset_sha: str  # the dataset fingerprint (older records: their manifest file's sha256)
    split: str
    protocol: str
    gyro_field: str
    dataset: str
    metrics: tuple[str, ...]
    primary: str
    rows: tuple[Record, ...]


def metric_order(names) -> tuple[str, ...]:
    names = set(names)
    return tuple([m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER)))


def fmt(metric: str, v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.{DECIMALS.get(metric, 4)}f}"


def _direction(rec_list, metric) -> bool:
    for r in rec_list:
        if metric in r.metrics:
            return r.metrics[metric].lower_better
    return False


def group_records(records: list[Record]) -> list[Group]:
    by: dict[tuple[str, str, str, str], list[Record]] = {}
    for r in records:
        by.setdefault(r.group, []).append(r)
    groups = []
    for i, key in enumerate(sorted(by)):
        recs = by[key]
        metrics = metric_order(
            {m for r in recs for m in r.metrics} | {m for r in recs for m in (r.get("unavailable") or {})}
        )
        measured = [m for m in metrics if any(m in r.metrics for r in recs)]
        primary = "psnr" if "psnr" in measured else (measured[0] if measured else "")
        lower = _direction(recs, primary)

        def key_fn(r: Record, primary=primary, lower=lower):
            v = r.metrics.get(primary)
            score = (0, v.mean if lower else -v.mean) if v is not None else (1, 0.0)
            return (score, r.label, r.sha256)

        recs = sorted(recs, key=key_fn)
        datasets = sorted({Path(str(r.get("dataset"))).name for r in recs if r.get("dataset")})
        groups.append(
            Group(i + 1, key[0], key[1], key[2], key[3], ", ".join(datasets), metrics, primary, tuple(recs))
        )
    return groups


def _short(sha, n: int = 12) -> str:
    return str(sha)[:n] if sha else "—"


def command_str(cmd) -> str:
    if cmd is None:
        return ""
    if isinstance(cmd, list | tuple):
        return shlex.join(str(c) for c in cmd)
    return str(cmd)


def record_relpath(rec: Record, out_dir: Path) -> str:
    return Path(os.path.relpath(rec.path.resolve(), Path(out_dir).resolve())).as_posix()


def _best(group: Group, metric: str) -> float | None:
    vals = [r.metrics[metric].mean for r in group.rows if metric in r.metrics]
    if not vals:
        return None
    return min(vals) if _direction(group.rows, metric) else max(vals)


def stamp(records: list[Record]) -> dict:
    from .. import __version__

    dates = sorted(str(r.get("date")) for r in records if r.get("date"))
    return {
        "leaderboard_version": LEADERBOARD_VERSION,
        "gyrobench_version": __version__,
        "records": len(records),
        "record_dates": [dates[0], dates[-1]] if dates else [],
    }


def group_heading(g: Group) -> str:
    """Plain-text description of a group (Markdown code spans added by the caller where wanted)."""
    parts = [f"dataset {_short(g.dataset_sha)}" + (f" ({g.dataset})" if g.dataset else "")]
    if g.split:
        parts.append(f"split {g.split}")
    parts.append(f"protocol {g.protocol}")
    if g.gyro_field:
        parts.append(f"{g.gyro_field} gyro fields")
    return ", ".join(parts)


def _gyro_mark(r: Record) -> str:
    v = r.get("uses_gyro")
    return "" if v is None else ("yes" if v else "no")


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown(groups: list[Group], records: list[Record], out_dir: Path, title: str) -> str:
    st = stamp(records)
    dates = " to ".join(dict.fromkeys(st["record_dates"])) or "not given"
    L = [
        f"# {title}",
        "",
        f"<!-- leaderboard_version: {st['leaderboard_version']}; gyrobench {st['gyrobench_version']} -->",
        f"Generated by gyrobench {st['gyrobench_version']} (leaderboard format `{st['leaderboard_version']}`) "
        f"from {st['records']} results record(s); record dates: {dates}.",
        "Cells: mean over test images [95 % interval]. ↑ higher is better, ↓ lower is better; best in **bold**. "
        "Rows are ranked only against rows on the same dataset content (fingerprint), split, protocol and gyro field.",
        "",
    ]
    for g in groups:
        L += [f"## {g.index}. {_md_cell(group_heading(g))}", ""]
        heads = (
            ["#", "model", "gyro", "options"]
            + [f"{DISPLAY.get(m, m)} {'↓' if _direction(g.rows, m) else '↑'}" for m in g.metrics]
            + ["n", "record"]
        )
        L += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        notes = []
        for rank, r in enumerate(g.rows, 1):
            cells = [
                str(rank),
                _md_cell(r.label),
                _gyro_mark(r),
                _md_cell(json.dumps(r.get("options") or {}, sort_keys=True)),
            ]
            for m in g.metrics:
                v = r.metrics.get(m)
                if v is None:
                    reason = (r.get("unavailable") or {}).get(m)
                    cells.append("n/a" + (f" [^{rank}{m}]" if reason else ""))
                    if reason:
                        notes.append(f"[^{rank}{m}]: {r.label}, {m}: {_md_cell(reason)}")
                    continue
                s = fmt(m, v.mean)
                if v.mean == _best(g, m) and len(g.rows) > 1:
                    s = f"**{s}**"
                if v.lo is not None:
                    s += f" [{fmt(m, v.lo)}, {fmt(m, v.hi)}]"
                cells.append(s)
            ns = sorted({v.n for v in r.metrics.values() if v.n is not None})
            cells.append("/".join(map(str, ns)) or "—")
            rel = record_relpath(r, out_dir)
            cells.append(f"[{_md_cell(Path(rel).name)}]({rel})")
            L.append("| " + " | ".join(cells) + " |")
        if notes:
            L += [""] + notes
        L += [
            "",
            "Traceability:",
            "",
            "| # | record sha256 | checkpoint sha256 | dataset manifest sha256 | recipe sha256 | git commit | "
            "date | command |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for rank, r in enumerate(g.rows, 1):
            L.append(
                "| "
                + " | ".join(
                    [
                        str(rank),
                        f"`{_short(r.sha256)}`",
                        f"`{_short(r.get('checkpoint_sha256'))}`",
                        f"`{_short(r.get('dataset_manifest_sha256'))}`",
                        f"`{_short(r.get('recipe_sha256'))}`",
                        f"`{_short(r.get('git_commit'), 16)}`",
                        _md_cell(r.get("date") or "—"),
                        f"`{_md_cell(command_str(r.get('command')))}`",
                    ]
                )
                + " |"
            )
        L.append("")
    return "\n".join(L)


def csv_text(groups: list[Group], out_dir: Path) -> str:
    all_metrics = metric_order({m for g in groups for m in g.metrics})
    head = [
        "group",
        "dataset_fingerprint",
        "split",
        "protocol",
        "gyro_field",
        "rank",
        "label",
        "model",
        "uses_gyro",
        "options",
    ]
    for m in all_metrics:
        head += [f"{m}_mean", f"{m}_ci95_lo", f"{m}_ci95_hi", f"{m}_n", f"{m}_lower_better"]
    head += [
        "unavailable",
        "record",
        "record_sha256",
        "checkpoint",
        "checkpoint_sha256",
        "dataset",
        "recipe_sha256",
        "git_commit",
        "date",
        "command",
        "train",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for g in groups:
        for rank, r in enumerate(g.rows, 1):
            row = [
                g.index,
                g.dataset_sha,
                g.split,
                g.protocol,
                g.gyro_field,
                rank,
                r.label,
                r.model,
                _gyro_mark(r),
                json.dumps(r.get("options") or {}, sort_keys=True),
            ]
            for m in all_metrics:
                v = r.metrics.get(m)
                row += (
                    [
                        repr(v.mean),
                        "" if v.lo is None else repr(v.lo),
                        "" if v.hi is None else repr(v.hi),
                        "" if v.n is None else v.n,
                        int(v.lower_better),
                    ]
                    if v
                    else ["", "", "", "", ""]
                )
            row += [
                json.dumps(r.get("unavailable") or {}, sort_keys=True),
                record_relpath(r, out_dir),
                r.sha256,
                r.get("checkpoint") or "",
                r.get("checkpoint_sha256") or "",
                r.get("dataset") or "",
                r.get("recipe_sha256") or "",
                r.get("git_commit") or "",
                r.get("date") or "",
                command_str(r.get("command")),
                json.dumps(r.get("train") or {}, sort_keys=True, default=str),
            ]
            w.writerow(row)
    return buf.getvalue()


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(c, c) for c in str(s))


def latex(groups: list[Group], records: list[Record]) -> str:
    st = stamp(records)
    L = [
        f"% generated by gyrobench {st['gyrobench_version']} ({st['leaderboard_version']}) from "
        f"{st['records']} results record(s); needs \\usepackage{{booktabs}}"
    ]
    for g in groups:
        cols = "rl" + "c" * len(g.metrics)
        L += [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{tex_escape(group_heading(g))}: mean over images, 95\\,\\% interval in brackets.}}",
            f"\\label{{tab:gyrobench-{g.index}}}",
            f"\\begin{{tabular}}{{{cols}}}",
            "\\toprule",
            " & ".join(
                ["\\#", "Model"]
                + [
                    f"{tex_escape(DISPLAY.get(m, m))}$\\{'downarrow' if _direction(g.rows, m) else 'uparrow'}$"
                    for m in g.metrics
                ]
            )
            + " \\\\",
            "\\midrule",
        ]
        for rank, r in enumerate(g.rows, 1):
            cells = [str(rank), tex_escape(r.label)]
            for m in g.metrics:
                v = r.metrics.get(m)
                if v is None:
                    cells.append("n/a")
                    continue
                s = fmt(m, v.mean)
                if v.mean == _best(g, m) and len(g.rows) > 1:
                    s = f"\\textbf{{{s}}}"
                if v.lo is not None:
                    s += f" {{\\scriptsize[{fmt(m, v.lo)}, {fmt(m, v.hi)}]}}"
                cells.append(s)
            L.append(" & ".join(cells) + " \\\\")
        L += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(L)
