"""Publish results records as a leaderboard folder (issue 6 item 5; docs/conventions.md §8).

``publish(records, out_dir)`` writes::

    out_dir/table.md  table.csv  table.tex     deterministic text (see tables.py)
    out_dir/index.html                          static page: tables, plots, crops, traceability, stamp
    out_dir/bars-<g>.png  scatter-<g>.png  crops-<g>.png   figures per group (dataset fingerprint + protocol)
    out_dir/crops/<g>-<rank>-<slug>/...         copies of each record's crop PNGs (the page is self-contained)
    out_dir/leaderboard.json                    the stamp and the list of records (sha256) it was built from
    out_dir/reference.md                        only with with_paper_reference=True: spec §7 numbers, labelled [S]
    out_dir/records/<name>/...                  with bundle_records=True: each record's folder, copied

It reads only results records and the files they point to; it never imports a model.

The folder switches at once (issue 13): everything is written into a hidden temporary sibling folder that then
replaces ``out_dir`` in one rename (:func:`gyrobench.io.atomic_dir`), so a reader (or a kill -9) sees the old
board or the new one, never a mix. The folder belongs to the board: records that live inside it are carried over
with their folders; a non-empty folder that is not a board (no ``leaderboard.json``), or a board that also
holds files a board is not made of (a user's ``paper.tex``), is refused (:mod:`gyrobench.folders`).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from ..folders import claim, write_marker
from ..io import atomic_dir, write_text_atomic
from ..log import get_logger, stage
from . import paper, plots
from .records import Record, RecordError, find_records, load_record
from .tables import (
    DISPLAY,
    Group,
    _best,
    _direction,
    _gyro_mark,
    _short,
    command_str,
    csv_text,
    fmt,
    group_heading,
    group_records,
    latex,
    markdown,
    record_relpath,
    stamp,
)

log = get_logger("leaderboard")


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[:40] or "model"


def _write(path: Path, text: str) -> Path:
    return write_text_atomic(path, text)


def _copy_crops(g: Group, out: Path) -> dict[int, list[dict]]:
    result: dict[int, list[dict]] = {}
    for rank, r in enumerate(g.rows, 1):
        items = []
        dest = out / "crops" / f"{g.index}-{rank}-{_slug(r.label)}"
        for c in r.get("crops") or []:
            entry = {"sample_id": str(c.get("sample_id", ""))}
            for kind in ("blurred", "restored", "sharp"):
                src = r.resolve(c.get(kind))
                if src is None:
                    continue
                if not src.is_file():
                    raise RecordError(
                        f"{r.path}: field 'crops[].{kind}' points to {src}, which does not exist; "
                        "re-run `gyrobench eval` or remove the entry"
                    )
                dest.mkdir(parents=True, exist_ok=True)
                target = dest / f"{_slug(entry['sample_id'])}-{kind}{src.suffix or '.png'}"
                shutil.copyfile(src, target)
                entry[kind] = target
            items.append(entry)
        result[rank] = items
    return result


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}
.ci{color:#666;font-size:12px}.ref{border:2px dashed #b55;padding:0.5em 1em;background:#fff8f8}
.crops img{width:160px;image-rendering:pixelated;margin:2px}.stamp{color:#666;font-size:12px}"""


def _html_group(g: Group, out: Path, figs: dict, crops: dict[int, list[dict]]) -> list[str]:
    e = html.escape
    H = [
        f"<h2>{g.index}. {e(group_heading(g))}</h2>",
        "<table><tr><th>#</th><th>model</th><th>gyro</th><th>options</th>",
    ]
    for m in g.metrics:
        H.append(f"<th>{e(DISPLAY.get(m, m))} {'↓' if _direction(g.rows, m) else '↑'}</th>")
    H.append("<th>record</th></tr>")
    for rank, r in enumerate(g.rows, 1):
        H.append(
            f"<tr><td>{rank}</td><td>{e(r.label)}</td><td>{e(_gyro_mark(r))}</td>"
            f"<td><code>{e(json.dumps(r.get('options') or {}, sort_keys=True))}</code></td>"
        )
        for m in g.metrics:
            v = r.metrics.get(m)
            if v is None:
                reason = (r.get("unavailable") or {}).get(m, "")
                H.append(f'<td title="{e(reason)}">n/a</td>')
                continue
            s = e(fmt(m, v.mean))
            if v.mean == _best(g, m) and len(g.rows) > 1:
                s = f"<b>{s}</b>"
            if v.lo is not None:
                s += f" <span class=ci>[{e(fmt(m, v.lo))}, {e(fmt(m, v.hi))}]</span>"
            H.append(f"<td class=num>{s}</td>")
        rel = record_relpath(r, out)
        H.append(f'<td><a href="{e(rel)}">{e(Path(rel).name)}</a></td></tr>')
    H.append("</table>")
    for key, alt in (
        ("bars", "bar chart with 95% intervals"),
        ("scatter", "per-image scatter vs blur extent"),
    ):
        if figs.get(key):
            H.append(f'<p><img src="{e(figs[key].name)}" alt="{alt}" style="max-width:100%"></p>')
    if any(crops.values()):
        H.append("<h3>Visual crops (blurred / restored / sharp)</h3><div class=crops>")
        for rank, r in enumerate(g.rows, 1):
            for c in crops.get(rank, []):
                imgs = "".join(
                    f'<img src="{e(c[k].relative_to(out).as_posix())}" alt="{k}" title="{k}">'
                    for k in ("blurred", "restored", "sharp")
                    if k in c
                )
                H.append(f"<p>{rank}. {e(r.label)}, sample <code>{e(c['sample_id'])}</code><br>{imgs}</p>")
        H.append("</div>")
    H.append(
        "<h3>Traceability</h3><table><tr><th>#</th><th>record sha256</th><th>checkpoint sha256</th>"
        "<th>dataset manifest sha256</th><th>recipe sha256</th><th>git commit</th><th>date</th>"
        "<th>command</th></tr>"
    )
    for rank, r in enumerate(g.rows, 1):
        cells = [
            r.sha256,
            r.get("checkpoint_sha256"),
            r.get("dataset_manifest_sha256"),
            r.get("recipe_sha256"),
            r.get("git_commit"),
            r.get("date"),
        ]
        H.append(
            f"<tr><td>{rank}</td>"
            + "".join(f'<td><code title="{e(str(c or ""))}">{e(_short(c, 16))}</code></td>' for c in cells)
            + f"<td><code>{e(command_str(r.get('command')))}</code></td></tr>"
        )
    H.append("</table>")
    return H


def _reference_html() -> list[str]:
    e = html.escape
    H = [
        "<div class=ref><h2>Published reference numbers (unverified secondary source [S])</h2>",
        f"<p>{e(paper.SOURCE_NOTE)}</p><table><tr>"
        + "".join(f"<th>{e(c)}</th>" for c in paper.COLUMNS)
        + "</tr>",
    ]
    for name, kind, *vals in paper.MAIN_TABLE:
        H.append(
            f"<tr><td>{e(name)}</td><td>{e(kind)}</td>"
            + "".join(f"<td class=num>{v}</td>" for v in vals)
            + "</tr>"
        )
    H.append("</table></div>")
    return H


def publish(
    inputs,
    out_dir: str | Path,
    *,
    title: str | None = None,
    with_paper_reference: bool = False,
    plots_enabled: bool = True,
    bundle_records: bool = False,
) -> dict[str, Path]:
    """Build the leaderboard folder from results records (files or folders of them). Returns written paths.

    ``bundle_records``: copy each record's folder (record, per-image CSV, crops) into ``out_dir/records/`` and
    link the rows to the copies, so the board stands on its own (``gyrobench demo --publish``)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RecordError(f"{out}: --out exists and is not a folder; choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not (out / "leaderboard.json").is_file():
        raise RecordError(f"{out}: --out is a non-empty folder that holds no leaderboard (no leaderboard.json); "
                          "publishing replaces the whole folder, so choose a new or empty folder")
    # a board holds only what publishing writes (and the records inside it); anything else there is refused, not
    # replaced; the lock keeps a second publisher out while this one writes (gyrobench.folders)
    with claim(out, "board", replace=True, marker=False):
        paths = find_records(inputs)
        records: list[Record] = []
        seen: dict[str, Path] = {}
        for p in paths:
            r = load_record(p)
            if r.sha256 in seen:
                log.warning("%s: identical to %s; counted once", p, seen[r.sha256])
                continue
            seen[r.sha256] = p
            records.append(r)
        title = title or f"gyrobench leaderboard: {out.name}"
        with atomic_dir(out) as tmp:
            write_marker(tmp, "board")
            records = _place_records(records, out, tmp, bundle_records)
            written = _build(records, tmp, title, with_paper_reference, plots_enabled, shown_as=out)
    return {k: out / v.relative_to(tmp) for k, v in written.items()}


def _place_records(records: list[Record], out: Path, tmp: Path, bundle: bool) -> list[Record]:
    """Records as the new folder will hold them: those inside ``out`` are copied (with their folder) to the same
    place in ``tmp``; with ``bundle`` the others are copied to ``tmp/records/<folder name>``."""
    placed, used = [], set()
    out_r = out.resolve()
    for r in records:
        src = r.path.resolve()
        if src.is_relative_to(out_r):
            rel = src.parent.relative_to(out_r)
        elif bundle:
            name = _slug(src.parent.name)
            rel, k = Path("records") / name, 1
            while rel in used:
                k += 1
                rel = Path("records") / f"{name}-{k}"
        else:
            placed.append(r)
            continue
        used.add(rel)
        dest = tmp / rel
        if rel == Path("."):
            shutil.copyfile(src, tmp / src.name)
        else:
            shutil.copytree(src.parent, dest, dirs_exist_ok=True)
        placed.append(load_record(dest / src.name))
    return placed


def _build(records: list[Record], out: Path, title: str, with_paper_reference: bool, plots_enabled: bool,
           shown_as: Path) -> dict[str, Path]:
    """Write every file of the board into folder ``out`` (empty); ``shown_as`` is the name logged."""
    groups = group_records(records)
    written: dict[str, Path] = {}
    with stage(f"leaderboard: {len(records)} record(s), {len(groups)} group(s) -> {shown_as}", log):
        written["md"] = _write(out / "table.md", markdown(groups, records, out, title))
        written["csv"] = _write(out / "table.csv", csv_text(groups, out))
        written["tex"] = _write(out / "table.tex", latex(groups, records))
        st = stamp(records)
        meta = dict(
            st,
            title=title,
            groups=[
                {
                    "group": g.index,
                    "dataset_fingerprint": g.dataset_sha,
                    "split": g.split,
                    "protocol": g.protocol,
                    "gyro_field": g.gyro_field,
                    "primary": g.primary,
                    "records": [{"record": record_relpath(r, out), "sha256": r.sha256} for r in g.rows],
                }
                for g in groups
            ],
        )
        written["json"] = _write(out / "leaderboard.json", json.dumps(meta, indent=1, sort_keys=True) + "\n")
        if with_paper_reference:
            written["reference"] = _write(out / "reference.md", paper.reference_markdown())
        e = html.escape
        page = [
            "<!doctype html><html><head><meta charset=utf-8>",
            f"<title>{e(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            f"<p class=stamp>leaderboard_version {e(st['leaderboard_version'])} · gyrobench "
            f"{e(st['gyrobench_version'])} · {st['records']} record(s) · record dates "
            f"{e(' to '.join(dict.fromkeys(st['record_dates'])) or 'not given')} · "
            "tables: <a href=table.md>Markdown</a>, <a href=table.csv>CSV</a>, <a href=table.tex>LaTeX</a></p>",
            "<p>Cells: mean over test images with the 95 % interval. Rows are ranked only within one dataset "
            "content (fingerprint), split, protocol and test-time gyro field (one section each).</p>",
        ]
        for g in groups:
            figs = {}
            crops = _copy_crops(g, out)
            if plots_enabled:
                figs["bars"] = plots.bar_chart(g, out / f"bars-{g.index}.png")
                figs["scatter"] = plots.scatter_extent(g, out / f"scatter-{g.index}.png")
                figs["crops"] = plots.crops_montage(g, crops, out / f"crops-{g.index}.png")
                written.update({f"{k}-{g.index}": v for k, v in figs.items() if v})
            page += _html_group(g, out, figs, crops)
        if with_paper_reference:
            page += _reference_html()
        page.append("</body></html>")
        written["html"] = _write(out / "index.html", "\n".join(page) + "\n")
    return written
