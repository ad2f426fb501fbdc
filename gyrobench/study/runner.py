"""``gyrobench study SUITE.yaml``: train, validate and evaluate every run of a suite; publish its table.

Stages (one log line each; the work folder ``OUT``, default ``out/study/<suite name>``):

1. **data**: the suite's recipe synthesized once into ``OUT/data`` (reused while the recipe is unchanged).
2. **plan**: the budget rule gives each run its step count (:mod:`gyrobench.study.budget`); ``OUT/plan.json``.
3. **runs**: for every run x seed, in ``OUT/runs/<run>/seed-<seed>/``: the initial weights
   (``checkpoints/step-0000000.pt``), training (``gyrobench.train``, with a ``step-N.pt`` checkpoint every
   ``validation_every`` steps), the final checkpoint ``final.pt`` (weights, options, training config and data
   hashes; no optimizer state; study paths written relative, so its sha256 does not depend on where the study
   ran), validation of every step checkpoint on the fixed validation split (after training, so it never counts
   as training time), and evaluation of ``final.pt`` on every test split, plus the run's test-time variants
   (shuffled / zero / clean fields).
4. **references**: the classical reference and the blurred input on every test split (and the blurred input
   on the validation split, the reference line of the learning curves).
5. **board** (``--publish DIR``, default ``OUT/board``): ``table.md``/``table.csv`` (seed means with 95 %
   intervals, PSNR per blur-extent bin, the budget rule, hashes, the command; deterministic), ``curves.png``
   (validation PSNR against training time), ``curves.csv``, ``timing.md``, ``study.json``, the suite and
   recipe, ``checkpoints/`` (final checkpoints up to ``publish_max_mb``), ``records/`` and ``leaderboard/``
   (:func:`gyrobench.leaderboard.publish` of every evaluation record: Markdown, CSV, LaTeX, HTML, figures).

Resume (the default): a rerun skips every finished piece whose inputs are unchanged (a run's config sha256,
the final checkpoint's sha256 in ``unit.json``, each record's ``checkpoint_sha256``), resumes a half-trained run
from its ``last.pt`` (bit-identical on CPU), and retrains a run whose config changed. ``fresh=True`` clears the
runs and references first (the dataset is kept).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from pathlib import Path

import torch

from ..builder.pipeline import synthesize
from ..builder.recipe import load_recipe
from ..config import from_dict
from ..data.manifest import read_manifest
from ..errors import RecipeError
from ..evaluate import EvalConfig, evaluate
from ..folders import Lock, check_folder, write_marker
from ..io import write_text_atomic
from ..log import get_logger
from ..models import build
from ..models.complexity import model_complexity
from ..provenance import sha256_file, sha256_json
from ..train.checkpoint import load_checkpoint, save_checkpoint
from ..train.config import TrainConfig
from ..train.trainer import train
from .budget import calibrate_seconds_per_step, plan_budget
from .curves import curve_points, train_times
from .publish import write_board
from .suite import Suite, load_suite, run_seeds, slug, train_mapping

__all__ = ["run_study", "prepare_data", "finalize_checkpoint"]

log = get_logger("study")

#: reference rows: key -> (model, options, label, gyro field)
REFERENCE_ROWS = {
    "classical": ("classical", {}, "classical (per-tile Wiener)", "noisy"),
    "classical_shuffled": ("classical", {}, "classical (per-tile Wiener) (shuffled fields)", "shuffled"),
    "classical_check": ("classical", {"check": True}, "classical (per-tile Wiener) + field check", "noisy"),
    "classical_check_shuffled": ("classical", {"check": True},
                                 "classical (per-tile Wiener) + field check (shuffled fields)", "shuffled"),
    "blurred": ("identity", {}, "blurred input", "noisy"),
}


# ---------------------------------------------------------------------------------------------------- data
def prepare_data(suite: Suite, data_dir: Path, *, workers: int, command: str) -> dict:
    """Synthesize the suite's recipe into ``data_dir`` unless a complete dataset of the same recipe is there."""

    ds = suite.dataset
    overrides = [f"{k}={json.dumps(v)}" for k, v in ds.overrides.items()]
    recipe = load_recipe(ds.recipe, overrides or None)
    if (data_dir / "manifest.json").is_file():
        man = read_manifest(data_dir)
        if man.get("recipe_sha256") == recipe.sha256 and man.get("limit") == ds.limit:
            log.info("study: data of recipe %s reused from %s", recipe.name, data_dir)
            return man
        raise RecipeError(f"{data_dir}: holds a dataset of another recipe (recipe_sha256 "
                          f"{str(man.get('recipe_sha256'))[:12]}, limit {man.get('limit')}) than "
                          f"{suite.source} asks for; use another --out, or delete {data_dir}")
    return synthesize(recipe, data_dir, workers=workers, limit=ds.limit, command=command)


def _data_sha256(manifest: dict) -> str:
    """Content hash of the dataset: sha256 of the sorted (shard file, shard sha256) pairs (path- and
    date-independent; the manifest itself records a creation date)."""
    return sha256_json(sorted([e["file"], e["sha256"]] for e in manifest["shards"]))


# ---------------------------------------------------------------------------------------------- checkpoint
def finalize_checkpoint(last: Path, dest: Path, out_dir: Path, data_sha256: str | None = None) -> str:
    """Write the publishable checkpoint of a finished run and return its sha256.

    Keeps what evaluation and traceability need (docs/conventions.md §4 fields ``model``, ``options``,
    ``state_dict``, plus ``step``, ``config``, ``data``, ``train``, ``git_commit``, ``versions``); drops the
    optimizer, scheduler and RNG states; paths inside ``out_dir`` are rewritten as ``<study>/...`` and the
    training data's manifest sha256 (which hashes the synthesis date too) is replaced by ``data_sha256`` (the
    shard contents), so the bytes do not depend on where or when the study ran.
    """

    ck = load_checkpoint(last)
    roots = sorted({str(out_dir), str(out_dir.resolve())}, key=len, reverse=True)

    def rel(v):
        if isinstance(v, str):
            for r in roots:
                if v == r or v.startswith(r + os.sep):
                    return "<study>" + v[len(r):].replace(os.sep, "/")
            return v
        if isinstance(v, dict):
            return {k: rel(x) for k, x in v.items()}
        if isinstance(v, list):
            return [rel(x) for x in v]
        return v

    keep = {k: ck[k] for k in ("model", "options", "state_dict", "step", "git_commit", "versions") if k in ck}
    for k in ("config", "data", "train"):
        if k in ck:
            keep[k] = rel(ck[k])
    if isinstance(keep.get("data"), dict) and data_sha256 is not None:
        keep["data"].pop("dataset_manifest_sha256", None)
        keep["data"]["data_sha256"] = data_sha256
    save_checkpoint(dest, **keep)
    return sha256_file(dest)


def _initial_checkpoint(cfg: dict, path: Path) -> Path:
    """The weights a run starts from (step 0 of its learning curve): the trainer seeds torch with the config
    seed right before it builds the model, so the same two calls give the same initial weights."""
    torch.manual_seed(int(cfg["seed"]))
    model = build(cfg["model"]["name"], **dict(cfg["model"].get("options") or {}))
    return save_checkpoint(path, model=cfg["model"]["name"], options=dict(model.options),
                           state_dict=model.state_dict(), step=0, config=cfg)


#: per run x seed and for the board: keeps two study processes on one folder off the same piece of work
_Lock = Lock


# ---------------------------------------------------------------------------------------------------- helpers
def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _write_json(path: Path, obj) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def _record_ok(path: Path, ckpt_sha: str | None, manifest_sha: str, metrics, gyro_field: str) -> bool:
    """An evaluation record that can be reused: same checkpoint bytes, dataset, metrics and gyro field."""
    rec = _read_json(path)
    if not rec:
        return False
    have = set(rec.get("metrics") or {}) | set(rec.get("unavailable") or {})
    return (rec.get("checkpoint_sha256") == ckpt_sha and rec.get("dataset_manifest_sha256") == manifest_sha
            and have == set(metrics) and (rec.get("protocol_options") or {}).get("gyro_field") == gyro_field)


def _study_command(suite_path, out, publish, only, fresh) -> str:
    args = ["gyrobench", "study", str(suite_path)]
    if out is not None:
        args += ["--out", str(out)]
    if publish is not None:
        args += ["--publish", str(publish)]
    for o in only or ():
        args += ["--only", o]
    if fresh:
        args.append("--fresh")
    return shlex.join(args)


# ------------------------------------------------------------------------------------------------------ runs
class _Study:
    def __init__(self, suite: Suite, out: Path, board: Path, command: str, show_progress: bool | None):
        self.suite, self.out, self.board, self.command = suite, out, board, command
        self.show_progress = show_progress
        self.data = out / "data"
        self.data_sha256: str | None = None

    def unit_dir(self, i: int, seed: int) -> Path:
        return self.out / "runs" / slug(self.suite.runs[i].label) / f"seed-{seed}"

    def ckpt_name(self, i: int, seed: int) -> str:
        return f"checkpoints/{slug(self.suite.runs[i].label)}-s{seed}.pt"

    # ---- training
    def train_unit(self, i: int, seed: int, plan: dict) -> dict:

        suite, run = self.suite, self.suite.runs[i]
        udir = self.unit_dir(i, seed)
        max_s = plan.get("seconds") if plan["rule"] == "time" else None
        cfg = train_mapping(suite, i, seed=seed, steps=plan["steps"], data_root=self.data, max_seconds=max_s)
        # hash of the path-independent config (the study folder written as <study>)
        cfg_sha = sha256_json(train_mapping(suite, i, seed=seed, steps=plan["steps"], data_root="<study>/data",
                                            max_seconds=max_s))
        state_path = udir / "unit.json"
        state = _read_json(state_path)
        final = udir / "final.pt"
        if state and state.get("config_sha256") != cfg_sha:
            log.warning("study: %s seed %d: config changed since the last run: retraining from scratch",
                        run.label, seed)
            shutil.rmtree(udir)
            state = None
        if state and state.get("final_sha256"):
            if final.is_file() and sha256_file(final) == state["final_sha256"]:
                log.info("study: %s seed %d: trained (final.pt %s verified), skipped", run.label, seed,
                         state["final_sha256"][:12])
                return state
            log.warning("study: %s seed %d: final.pt missing or changed: finishing the run again", run.label, seed)
        if state is None:
            if udir.exists():
                shutil.rmtree(udir)  # a folder without unit.json was never started by this runner
            state = {"run": run.label, "seed": seed, "config_sha256": cfg_sha, "config": cfg}
            write_marker(udir, "run", "gyrobench study")
            _write_json(state_path, state)
        last = udir / "checkpoints" / "last.pt"
        resume = last.is_file()
        if not resume:
            _initial_checkpoint(cfg, udir / "checkpoints" / "step-0000000.pt")
        if resume:
            step = int(load_checkpoint(last)["step"])
            log.info("study: %s seed %d: resuming from step %d/%d", run.label, seed, step, plan["steps"])
            if max_s is not None:  # the time budget counts what the killed run already spent
                spent = train_times(udir / "metrics.jsonl", suite.validation_every).get(step, 0.0)
                cfg = dict(cfg, schedule=dict(cfg["schedule"], max_seconds=max(1e-3, max_s - spent)))
        else:
            log.info("study: %s seed %d: training %d steps", run.label, seed, plan["steps"])
        res = train(cfg, udir, resume=resume, show_progress=self.show_progress)
        sha = finalize_checkpoint(last, final, self.out, self.data_sha256)
        times = train_times(udir / "metrics.jsonl", suite.validation_every)
        state.update(final_sha256=sha, steps=int(res["steps"]), train_s=times.get(int(res["steps"])),
                     stopped_by_time=bool(res["stopped_by_time"]))
        _write_json(state_path, state)
        return state

    # ---- validation (after training: never counted as training time)
    def validate_unit(self, i: int, seed: int, manifest_sha: str) -> list[dict]:

        suite = self.suite
        udir = self.unit_dir(i, seed)
        v = suite.dataset.validation
        points = []
        for ck in sorted((udir / "checkpoints").glob("step-*.pt")):
            step = int(ck.stem.split("-")[1])
            rec_path = udir / "val" / ck.stem / "results.json"
            sha = sha256_file(ck)
            if not _record_ok(rec_path, sha, manifest_sha, ("psnr",), "noisy"):
                evaluate(EvalConfig(checkpoint=str(ck), data=str(self.data), out=str(rec_path.parent), split=v.split,
                                    limit=v.limit, metrics=("psnr",), protocol=suite.protocol, crops=0,
                                    device=suite.device, command=self.command, overwrite=True,
                                    label=f"{suite.runs[i].label} seed {seed} step {step}"))
            points.append((step, _read_json(rec_path)["metrics"]["psnr"]["mean"]))
        times = {0: 0.0, **train_times(udir / "metrics.jsonl", suite.validation_every)}
        curve = curve_points(points, times)
        _write_json(udir / "curve.json", curve)
        return curve

    # ---- test evaluation
    def evaluate_unit(self, i: int, seed: int, final_sha: str, manifest_sha: str, uses_gyro: bool) -> dict:

        suite, run = self.suite, self.suite.runs[i]
        udir = self.unit_dir(i, seed)
        out: dict = {}
        variants = [None] + list(run.evals)
        for ts in suite.dataset.test:
            for var in variants:
                if var is not None and not uses_gyro:
                    log.info("study: %s: eval variant '%s' skipped (the model does not use the gyro)", run.label,
                             var.name)
                    continue
                field = var.gyro_field if var is not None else "noisy"
                name = ts.name if var is None else f"{ts.name}--{slug(var.name)}"
                rec_path = udir / "eval" / name / "results.json"
                if not _record_ok(rec_path, final_sha, manifest_sha, suite.metrics, field):
                    label = run.label + (f" ({var.name})" if var is not None else "") + f" · seed {seed}"
                    evaluate(EvalConfig(checkpoint=str(udir / "final.pt"), data=str(self.data),
                                        out=str(rec_path.parent), split=ts.split, limit=ts.limit,
                                        metrics=tuple(suite.metrics), protocol=suite.protocol, gyro_field=field,
                                        device=suite.device, command=self.command, overwrite=True, label=label,
                                        crops=suite.crops))
                out[(ts.name, var.name if var is not None else None)] = rec_path
        return out

    def references(self, manifest_sha: str) -> dict:

        suite = self.suite
        out: dict = {}
        jobs = [(key, ts.split, ts.limit, ts.name, tuple(suite.metrics))
                for ts in suite.dataset.test for key in suite.references.keys()]
        v = suite.dataset.validation
        jobs.append(("blurred", v.split, v.limit, "_validation", ("psnr",)))
        for key, split, limit, name, metrics in jobs:
            model, options, label, gyro_field = REFERENCE_ROWS[key]
            rec_path = self.out / "references" / key / name / "results.json"
            if not _record_ok(rec_path, None, manifest_sha, metrics, gyro_field):
                evaluate(EvalConfig(model=model, options=dict(options), data=str(self.data),
                                    out=str(rec_path.parent), split=split, limit=limit, metrics=metrics,
                                    protocol=suite.protocol, label=label, device=suite.device,
                                    crops=0 if name == "_validation" else suite.crops, gyro_field=gyro_field,
                                    command=self.command, overwrite=True))
            out[(key, name)] = rec_path
        return out


def _model_figures(suite: Suite) -> dict:
    """Per run label: parameters and forward GMACs of one training crop."""

    figs = {}
    for i, run in enumerate(suite.runs):
        cfg = from_dict(TrainConfig, train_mapping(suite, i, seed=suite.seeds[0], steps=1, data_root="."),
                        source=suite.source)
        crop = cfg.data.crop
        c = model_complexity(cfg.model.name, dict(cfg.model.options), size=(crop or 256, crop or 256))
        figs[run.label] = {"params": c.params, "gmacs_per_crop": c.gmacs if crop else None, "crop": crop,
                           "uses_gyro": c.uses_gyro}
    return figs


class _Calibrator:
    """Seconds per optimizer step of each run (:func:`calibrate_seconds_per_step`), cached in ``OUT/plan.json``
    per run config, so a resumed study does not calibrate again."""

    def __init__(self, study: _Study):
        self.study = study
        self.cached = (_read_json(study.out / "plan.json") or {}).get("calibration", {})
        self.used: dict[str, float] = {}

    def __call__(self, i: int) -> float:
        st, suite = self.study, self.study.suite
        key = sha256_json([train_mapping(suite, i, seed=0, steps=1, data_root=st.data), suite.budget.seconds])
        if key not in self.cached:
            work = st.out / "calibration" / slug(suite.runs[i].label)
            if work.exists():
                shutil.rmtree(work)
            self.cached[key] = calibrate_seconds_per_step(suite, i, st.data, work)
            shutil.rmtree(work, ignore_errors=True)
        self.used[key] = self.cached[key]
        return self.cached[key]


def _plan(study: _Study, calib: _Calibrator) -> list[dict]:
    """Budget plan per run (``OUT/plan.json``, with the calibrations used)."""
    suite = study.suite
    plans = plan_budget(suite, seconds_per_step=calib if suite.budget.rule == "time" else None)
    _write_json(study.out / "plan.json", {"runs": [{"label": r.label, **p} for r, p in zip(suite.runs, plans)],
                                          "calibration": calib.used})
    return plans


def plan_text(suite: Suite, plans: list[dict], figs: dict, sps: list[float]) -> str:
    """The ``--plan`` table: steps per run and the training time they would take on this machine."""
    n = len(suite.seeds)
    L = [f"Study `{suite.name}`: budget rule {suite.budget.rule}, {n} seed(s), validation every "
         f"{suite.validation_every} steps", "",
         "| run | model | params | GMAC/crop | crop | steps | s/step (calibrated) | training min (all seeds) | "
         "validation points per seed |", "|---|---|---|---|---|---|---|---|---|"]
    total = 0.0
    for run, p, t in zip(suite.runs, plans, sps):
        f = figs[run.label]
        minutes = p["steps"] * t * n / 60
        total += minutes
        g = f"{f['gmacs_per_crop']:.3f}" if f.get("gmacs_per_crop") is not None else "—"
        L.append(f"| {run.label} | {run.model['name']} | {f['params']:,} | {g} | {f['crop']} | {p['steps']} | "
                 f"{t:.3f} | {minutes:.1f} | {1 + p['steps'] // suite.validation_every + bool(p['steps'] % suite.validation_every)} |")
    L += ["", f"Total training: {total:.1f} min on this machine now (validation, evaluation and synthesis "
          "not included)."]
    return "\n".join(L)


# ------------------------------------------------------------------------------------------------ run_study
def run_study(suite_path: str | Path, out_dir: str | Path | None = None, *, publish: str | Path | None = None,
              only: list[str] | tuple[str, ...] | None = None, fresh: bool = False, workers: int | None = None,
              command: str | None = None, show_progress: bool | None = None, plan_only: bool = False) -> dict:
    """Run a study suite (module docstring); returns the summary also written to ``BOARD/study.json``.

    ``plan_only``: synthesize the data, compute the budget plan, time every run's step and return
    ``{"plan": ..., "text": plan_text(...)}`` without training."""
    t_all = time.perf_counter()
    suite = load_suite(suite_path)
    out = Path(out_dir) if out_dir is not None else Path("out") / "study" / slug(suite.name)
    board = Path(publish) if publish is not None else out / "board"
    command = command or _study_command(suite_path, out_dir, publish, only, fresh)
    labels = [r.label for r in suite.runs]
    unknown = [o for o in only or () if o not in labels]
    if unknown:
        raise RecipeError(f"--only {unknown[0]!r}: not a run of {suite.source}; runs: {', '.join(labels)}")
    # both folders are the study's (gyrobench.folders), checked before any work: the work folder holds only
    # what studies write, and the board, replaced whole at the end, holds nothing a study did not make
    check_folder(out, "study", flag="--out")
    check_folder(board, "study-board", replace=True, flag="--publish" if publish is not None else "--out (board)")
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "study")
    if fresh:
        for sub in ("runs", "references", "calibration"):
            shutil.rmtree(out / sub, ignore_errors=True)
        (out / "plan.json").unlink(missing_ok=True)
    study = _Study(suite, out, board, command, show_progress)
    stages: dict[str, float] = {}

    figs = _model_figures(suite)
    calib = _Calibrator(study)
    plans = _plan(study, calib) if suite.budget.rule != "time" else None  # fail before synthesis if possible

    t0 = time.perf_counter()
    manifest = prepare_data(suite, study.data, workers=workers or max(1, min(4, os.cpu_count() or 1)),
                            command=command)
    splits = manifest.get("splits") or {}
    for sp in [suite.dataset.validation.split, *(t.split for t in suite.dataset.test)]:
        if not (splits.get(sp) or {}).get("samples"):
            raise RecipeError(f"{suite.source}: dataset: split '{sp}' is not in recipe {suite.dataset.recipe} (splits: "
                              f"{', '.join(splits)}); add it with dataset.overrides.splits")
    manifest_sha = sha256_file(study.data / "manifest.json")
    data_sha = study.data_sha256 = _data_sha256(manifest)
    stages["data_s"] = time.perf_counter() - t0

    if plans is None:  # the time rule calibrates on the data
        plans = _plan(study, calib)
    if plan_only:
        sps = [calib(i) for i in range(len(suite.runs))]
        _plan(study, calib)  # records the calibrations
        return {"plan": plans, "seconds_per_step": sps, "text": plan_text(suite, plans, figs, sps)}
    log.info("study %s: %d run(s) x %d seed(s), budget rule %s; steps per run: %s", suite.name, len(suite.runs),
             len(suite.seeds), suite.budget.rule, "; ".join(f"{r.label}: {p['steps']}" for r, p in zip(suite.runs, plans)))

    t0 = time.perf_counter()
    units: list[dict] = []
    todo = [(i, seed) for i in range(len(suite.runs)) for seed in run_seeds(suite, i)]
    deferred: list[tuple[int, int]] = []
    for wait, batch in ((False, todo), (True, deferred)):
        for i, seed in batch:
            run = suite.runs[i]
            udir = study.unit_dir(i, seed)
            if only and run.label not in only:
                state = _read_json(udir / "unit.json") or {}
                if state.get("final_sha256"):
                    units.append({"index": i, "label": run.label, "seed": seed, "dir": udir, "state": state,
                                  "curve": _read_json(udir / "curve.json") or [],
                                  "evals": _existing_evals(study, i, seed)})
                continue
            lock = _Lock(study.out / "locks" / f"{slug(run.label)}-s{seed}.lock")
            if not lock.acquire(wait=wait):  # another study process works on it: do the others first
                log.info("study: %s seed %d: busy in another study process, done last", run.label, seed)
                deferred.append((i, seed))
                continue
            try:
                state = study.train_unit(i, seed, plans[i])
                curve = study.validate_unit(i, seed, manifest_sha)
                evals = study.evaluate_unit(i, seed, state["final_sha256"], manifest_sha,
                                            figs[run.label]["uses_gyro"])
            finally:
                lock.release()
            units.append({"index": i, "label": run.label, "seed": seed, "dir": udir, "state": state,
                          "curve": curve, "evals": evals})
    units.sort(key=lambda u: (u["index"], suite.seeds.index(u["seed"])))
    stages["runs_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    board_lock = _Lock(study.out / "locks" / "references-and-board.lock")
    board_lock.acquire(wait=True)
    try:
        refs = study.references(manifest_sha)
        stages["references_s"] = time.perf_counter() - t0
        summary = _finish(study, units, refs, plans, figs, manifest, data_sha, stages, t_all)
    finally:
        board_lock.release()
    return summary


def _finish(study, units, refs, plans, figs, manifest, data_sha, stages, t_all) -> dict:
    suite, board = study.suite, study.board
    missing = [f"{r.label} seed {s}" for i, r in enumerate(suite.runs) for s in run_seeds(suite, i)
               if not any(u["label"] == r.label and u["seed"] == s for u in units)]
    if missing:
        log.warning("study %s: not finished (not in the table): %s", suite.name, ", ".join(missing))

    t0 = time.perf_counter()

    summary = write_board(study, units, refs, plans, figs, manifest, data_sha, missing)
    stages["board_s"] = time.perf_counter() - t0
    summary["stages"] = stages
    summary["total_s"] = time.perf_counter() - t_all
    _write_json(board / "study.json", summary)
    log.info("study %s: done in %.1f s; table %s", suite.name, summary["total_s"], board / "table.md")
    return summary


def _existing_evals(study: _Study, i: int, seed: int) -> dict:
    run = study.suite.runs[i]
    out = {}
    for ts in study.suite.dataset.test:
        for var in [None, *run.evals]:
            name = ts.name if var is None else f"{ts.name}--{slug(var.name)}"
            p = study.unit_dir(i, seed) / "eval" / name / "results.json"
            if p.is_file():
                out[(ts.name, var.name if var is not None else None)] = p
    return out
