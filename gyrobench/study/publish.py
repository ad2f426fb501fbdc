"""The study's board folder: tables, curves, timing, checkpoints, records and the leaderboard.

Written by :func:`write_board` at the end of :func:`gyrobench.study.runner.run_study` (see that module for the
list of files). Deterministic files: ``table.md``, ``table.csv``, the copied checkpoints, ``suite.yaml`` and
``recipe.yaml``; the rest carries measured times or dates.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from .. import __version__
from ..errors import GyrobenchError
from ..folders import check_folder, write_marker
from ..io import atomic_dir, write_text_atomic
from ..leaderboard.publish import publish
from ..log import get_logger
from ..provenance import sha256_file
from .aggregate import Row, aggregate_row, default_bins, read_per_image
from .curves import plot_curves
from .tables import csv_text, markdown

__all__ = ["write_board"]

log = get_logger("study")


def _load(path: Path) -> tuple[dict, Path]:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8")), Path(path)


def _edges(suite, split: str, refs: dict, units: list[dict]) -> list[float]:
    if suite.blur_bins is not None:
        return [float(b) for b in suite.blur_bins]
    path = refs.get(("blurred", split)) or refs.get(("classical", split))
    if path is None:
        path = next(u["evals"][(split, None)] for u in units if (split, None) in u["evals"])
    rec, p = _load(path)
    return default_bins([r["blur_extent_px"] for r in read_per_image(rec, p)])


def _rows(study, units: list[dict], refs: dict, figs: dict, edges: dict) -> dict[str, list[Row]]:
    suite = study.suite
    out: dict[str, list[Row]] = {}
    for ts in suite.dataset.test:
        rows = []
        for i, run in enumerate(suite.runs):
            mine = sorted((u for u in units if u["index"] == i), key=lambda u: u["seed"])
            for var in [None, *run.evals]:
                key = (ts.name, var.name if var is not None else None)
                have = [u for u in mine if key in u["evals"]]
                if not have:
                    continue
                f = figs[run.label]
                rec0, _ = _load(have[0]["evals"][key])
                row = Row(split=ts.name, label=run.label + (f" ({var.name})" if var is not None else ""),
                          kind="run" if var is None else "variant", model=rec0["model"],
                          options=dict(rec0.get("options") or {}), uses_gyro=bool(f["uses_gyro"]),
                          gyro_field=var.gyro_field if var is not None else "noisy", run=run.label,
                          seeds=[u["seed"] for u in have], steps=[int(u["state"]["steps"]) for u in have],
                          weights=[u["state"]["final_sha256"] for u in have])
                rows.append(aggregate_row(row, [_load(u["evals"][key]) for u in have], suite.metrics,
                                          edges[ts.name]))
        for key in suite.references.keys():
            path = refs.get((key, ts.name))
            if path is None:
                continue
            rec, p = _load(path)
            row = Row(split=ts.name, label=rec.get("label") or key, kind="reference", model=rec["model"],
                      options=dict(rec.get("options") or {}), uses_gyro=bool(rec.get("uses_gyro")),
                      gyro_field=(rec.get("protocol_options") or {}).get("gyro_field", "noisy"))
            rows.append(aggregate_row(row, [(rec, p)], suite.metrics, edges[ts.name]))
        out[ts.name] = rows
    return out


def _copy_checkpoints(study, units: list[dict], board: Path) -> dict[tuple[str, int], str]:
    """Copy each final checkpoint to ``board/checkpoints/<run>-s<seed>.pt`` (at most ``publish_max_mb``)."""
    limit = study.suite.publish_max_mb * 1e6
    names = {}
    for u in units:
        src = u["dir"] / "final.pt"
        rel = study.ckpt_name(u["index"], u["seed"])
        size = src.stat().st_size
        if size > limit:
            log.warning("study: %s seed %d: final checkpoint is %.1f MB > %.0f MB: not published (it stays in %s)",
                        u["label"], u["seed"], size / 1e6, study.suite.publish_max_mb, src)
            names[(u["label"], u["seed"])] = f"not published ({size / 1e6:.1f} MB > {study.suite.publish_max_mb:g} MB)"
            continue
        dest = board / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        names[(u["label"], u["seed"])] = rel
    return names


def _copy_records(study, paths: list[Path], board: Path) -> list[Path]:
    """Copy evaluation folders (record, per-image CSV, crops) under ``board/records/`` (the board stands alone)."""
    out = []
    for p in paths:
        rel = p.parent.relative_to(study.out)
        dest = board / "records" / rel  # board is a fresh folder (write_board): nothing to replace
        shutil.copytree(p.parent, dest)
        out.append(dest / p.name)
    return out


def _fmt_s(v) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.1f}"


def write_board(study, units, refs, plans, figs, manifest, data_sha, missing) -> dict:
    """Publish the study into ``study.board`` as one folder swap (:func:`gyrobench.io.atomic_dir`): the board
    holds exactly what this publication wrote (no file of an earlier study survives), and a kill leaves the old
    board whole."""
    check_folder(study.board, "study-board", replace=True, flag="--publish")  # again: it may have changed
    with atomic_dir(study.board) as tmp:
        write_marker(tmp, "study-board")
        summary = _write_board(study, Path(tmp), units, refs, plans, figs, manifest, data_sha, missing)
    final = str(study.board)
    summary["written"] = {k: v.replace(str(tmp), final, 1) for k, v in summary["written"].items()}
    return summary


def _write_board(study, board: Path, units, refs, plans, figs, manifest, data_sha, missing) -> dict:
    suite = study.suite
    test_info = {}
    edges = {}
    for ts in suite.dataset.test:
        edges[ts.name] = _edges(suite, ts.name, refs, units)
        any_rec = refs.get(("blurred", ts.name)) or refs.get(("classical", ts.name))
        if any_rec is None:
            any_rec = next((u["evals"][(ts.name, None)] for u in units if (ts.name, None) in u["evals"]), None)
        if any_rec is None:
            raise GyrobenchError(f"test split {ts.name}: nothing evaluated yet; run the study without --only")
        rec, _ = _load(any_rec)
        test_info[ts.name] = {"images": rec["n_images"], "extent_median": rec["blur_extent_px"]["median"],
                              "extent_max": rec["blur_extent_px"]["max"], "split": ts.split}
    val_rec, _ = _load(refs[("blurred", "_validation")])
    ckpt_names = _copy_checkpoints(study, units, board)
    suite_text = Path(suite.source).read_text(encoding="utf-8")
    write_text_atomic(board / "suite.yaml", suite_text)
    write_text_atomic(board / "recipe.yaml", manifest.get("recipe") or "")
    info = {
        "name": suite.name, "command": study.command, "suite": suite.source,
        "suite_sha256": sha256_file(board / "suite.yaml"), "version": __version__,
        "recipe": manifest.get("name"), "recipe_sha256": manifest.get("recipe_sha256") or "",
        "data_sha256": data_sha, "validation": {"split": suite.dataset.validation.split,
                                                 "images": val_rec["n_images"]},
        "test": test_info, "budget": {"rule": suite.budget.rule, **plans[0]}, "seeds": list(suite.seeds),
        "protocol": suite.protocol, "metrics": list(suite.metrics),
        "units": [{"label": u["label"], "seed": u["seed"], "steps": u["state"]["steps"],
                   "checkpoint": ckpt_names[(u["label"], u["seed"])], "checkpoint_sha256": u["state"]["final_sha256"],
                   "config_sha256": u["state"]["config_sha256"]} for u in units],
    }
    rows = _rows(study, units, refs, figs, edges)
    written = {"md": write_text_atomic(board / "table.md", markdown(info, rows, edges, figs)),
               "csv": write_text_atomic(board / "table.csv", csv_text(info, rows, edges, figs))}

    # learning curves (measured times: not deterministic)
    curves: dict[str, list[list[dict]]] = {}
    lines = ["run,seed,step,train_s,val_psnr"]
    for u in units:
        curves.setdefault(u["label"], []).append(u["curve"])
        for p in u["curve"]:
            lines.append(f"{u['label']},{u['seed']},{p['step']},{p['train_s']!r},{p['psnr']!r}")
    write_text_atomic(board / "curves.csv", "\n".join(lines) + "\n")
    written["curves"] = plot_curves(curves, board / "curves.png", reference=val_rec["metrics"]["psnr"]["mean"],
                                    title=f"{suite.name}: validation PSNR ({suite.dataset.validation.split}, "
                                          f"{val_rec['n_images']} images)")
    T = ["# Training time per run (measured; not part of the deterministic table)", "",
         "| run | seed | steps | training s | s/step | stopped by time |", "|---|---|---|---|---|---|"]
    for u in units:
        s, n = u["state"].get("train_s"), u["state"]["steps"]
        T.append(f"| {u['label']} | {u['seed']} | {n} | {_fmt_s(s)} | "
                 f"{(s / n if s and n else float('nan')):.3f} | {'yes' if u['state'].get('stopped_by_time') else 'no'} |")
    written["timing"] = write_text_atomic(board / "timing.md", "\n".join(T) + "\n")

    # every evaluation record, through the project leaderboard (per seed, intervals over images)
    rec_paths = [p for u in units for p in u["evals"].values()]
    rec_paths += [p for (k, name), p in sorted(refs.items()) if name != "_validation"]
    copies = _copy_records(study, rec_paths, board)
    lb = publish(copies, board / "leaderboard", title=f"study {suite.name}: every evaluation (per seed)")
    written.update({f"leaderboard_{k}": v for k, v in lb.items() if k in ("md", "csv", "tex", "html")})
    # a board of the paper's ablations (rows labelled "(a) ...", "M = 2", ...): does it reproduce their orderings?
    from .orderings import write_orderings

    written.update(write_orderings(board, suite.dataset.test[0].name))
    return {"suite": suite.source, "name": suite.name, "command": study.command, "out": str(study.out),
            "board": str(study.board), "budget": plans, "figures": figs, "missing": missing,
            "units": [{"label": u["label"], "seed": u["seed"], "dir": str(u["dir"]), **{
                k: v for k, v in u["state"].items() if k != "config"}} for u in units],
            "written": {k: str(v) for k, v in written.items()}, "edges": edges, "test": test_info}

