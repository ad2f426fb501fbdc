"""The end-to-end demo behind ``gyrobench demo`` / ``make demo`` (issue 6 item 6; docs/conventions.md §9).

Stages (one log line each, progress bars inside):

1. **synth**: the builtin ``demo`` recipe (12 packaged Kodak images, 48° HFOV 500×500 camera, 480×480 crops,
   fitted hand-shake; train 48 / test 12 on disjoint images) into ``OUT/data``. Shards already there from an
   earlier run of the same recipe are kept.
2. **train**: the small CPU-study configurations (:mod:`gyrobench.models.small`, 1.3-1.5 M parameters, about
   the same GMACs, so equal steps are about equal time): GyroDeblurNet small (official layout, gyro through the
   deformable offsets at 1/8 resolution), the same with the Wiener gyro prior (``prior: {kind: wiener}``: the classical
   per-tile Wiener estimate as input and residual base; docs/cpu-study.md), NAFNet small (blind) and DeepGyro
   small (input residual, Keras init),
   each for the same number of steps on random crops of ``crop`` px at lr 3e-3 (DeepGyro 1e-3: at 3e-3 its ReLU
   U-Net collapsed to the identity) after a 20-step warm-up (issue 9's diagnosis: lr 3e-4 barely moves these
   models in minutes; DeepGyro under PyTorch's default init hardly learns).
   ``train_seconds`` caps the wall-clock time per model on a loaded machine. The configs are
   :data:`DEMO_MODELS`, also shipped as ``configs/demo_*.yaml`` for ``gyrobench train``.
3. **eval**: every checkpoint plus the classical per-tile Wiener reference and the blurred input itself on the
   test split at full resolution (protocol ``gyrodeblurnet_official``) into ``OUT/results/<name>``.
4. **leaderboard**: ``gyrobench.leaderboard.publish`` into ``publish`` (default ``OUT/leaderboard``).

Timings of every stage go to ``OUT/demo.json``. ``quick=True`` shrinks everything (the ``smoke`` recipe,
32-px crops, a couple of steps per model, PSNR/SSIM only) for the end-to-end test.

The numbers are a smoke test of the harness, not a benchmark: minutes of CPU training (instead of 300 epochs,
spec §6.1) leave every learned model far from convergence; ``leaderboard/cpu-study/`` is the study.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from .folders import check_folder, claim
from .io import write_text_atomic
from .log import get_logger
from .models.small import LIVE_GYRO, small_options

__all__ = ["DEMO_MODELS", "demo_config", "run_demo"]

log = get_logger("demo")

# name -> (model section, per-model schedule extras). Shared settings are added by demo_config(). The GyroDeblurNet
# rows use the live-gyro recipe (gyrobench.models.small.LIVE_GYRO; docs/gyro-path.md): with the official options
# their deformable block dies within the first steps at lr 3e-3.
DEMO_MODELS: dict[str, dict] = {
    "gyrodeblurnet": {"model": {"name": "gyrodeblurnet",
                                "options": small_options("gyrodeblurnet", **LIVE_GYRO["options"])},
                      "schedule": LIVE_GYRO["schedule"], "label": "GyroDeblurNet small (1.3 M)", "steps": 400},
    "gyrodeblurnet_wiener": {"model": {"name": "gyrodeblurnet",
                                       "options": small_options("gyrodeblurnet", **LIVE_GYRO["options"],
                                                                prior={"kind": "wiener"})},
                             "schedule": LIVE_GYRO["schedule"],
                             "label": "GyroDeblurNet small + Wiener prior (1.3 M)", "steps": 400},
    "nafnet": {"model": {"name": "nafnet", "options": small_options("nafnet")},
               "label": "NAFNet small (1.5 M, blind)", "steps": 400},
    "deepgyro": {"model": {"name": "deepgyro", "options": small_options("deepgyro", init="glorot")},
                 "label": "DeepGyro small (1.3 M, Keras init)", "steps": 400, "lr": 1e-3},
}

# Fixed step counts per model (about 80 s each on an idle 2-core CPU, data loading and degradation included):
# the demo is reproducible and the cosine schedule runs its full course. ``seconds`` is only a safety cap
# for a loaded machine (a capped run is no longer step-for-step reproducible; the run log says so).
_FULL = {"recipe": "demo", "crop": 64, "batch": 4, "steps": None, "seconds": 150.0,
         "metrics": ("psnr", "ssim", "niqe", "topiq_nr"), "limit": None}
_QUICK = {"recipe": "smoke", "crop": 32, "batch": 2, "steps": 2, "seconds": None,
          "metrics": ("psnr", "ssim"), "limit": 2}


def demo_config(name: str, data_root: str | Path, *, crop: int = 64, batch: int = 4, steps: int | None = None,
                seconds: float | None = 150.0, seed: int = 2025) -> dict:
    """The training config (a mapping for :class:`gyrobench.train.config.TrainConfig`) of demo model ``name``.

    ``steps=None`` takes the model's own demo step count (``DEMO_MODELS[name]["steps"]``)."""
    spec = DEMO_MODELS[name]
    steps = int(steps if steps is not None else spec["steps"])
    return {
        "name": f"demo-{name}",
        "model": copy.deepcopy(spec["model"]),
        "data": {"root": str(data_root), "split": "train", "crop": crop, "workers": 0},
        "schedule": {"batch_size": batch, "steps": steps, "lr": spec.get("lr", 3e-3), "lr_min": 1e-6, "warmup_steps": min(20, steps // 2),
                     **copy.deepcopy(spec.get("schedule", {})), **({"max_seconds": seconds} if seconds else {})},
        "degradation": "gyrodeblurnet_official",
        "curriculum": False,  # a few minutes of training: train on the noisy field (alpha = 1), as at test time
        "seed": seed,
        "device": "cpu",
        "logging": {"log_every": 5, "checkpoint_every": 1000000, "tensorboard": False, "image_every": 0},
    }


def run_demo(out_dir: str | Path = "out/demo", *, publish: str | Path | None = None, quick: bool = False,
             train_seconds: float | None = None, models: tuple[str, ...] | None = None, workers: int | None = None,
             show_progress: bool | None = None) -> dict:
    """Run the four stages (module docstring); returns the summary also written to ``OUT/demo.json``."""
    import os

    p = dict(_QUICK if quick else _FULL)
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    if train_seconds is not None:
        p["seconds"] = float(train_seconds)
    out = Path(out_dir)
    data = out / "data"
    board = Path(publish) if publish else out / "leaderboard"
    names = tuple(models or DEMO_MODELS)
    unknown = [n for n in names if n not in DEMO_MODELS]
    if unknown:
        from .errors import RecipeError

        raise RecipeError(f"demo: unknown model(s) {unknown}; choose from {', '.join(DEMO_MODELS)}")
    # every folder the demo writes is checked before any work (gyrobench.folders): OUT is a demo's folder, and
    # the board, replaced whole at the end, holds only what a leaderboard is made of
    check_folder(board, "board", replace=True, flag="--publish" if publish else "--out (leaderboard)")
    with claim(out, "demo"):
        return _run_demo(out, data, board, names, p, workers, publish, quick, show_progress)


def _run_demo(out: Path, data: Path, board: Path, names: tuple[str, ...], p: dict, workers: int, publish,
              quick: bool, show_progress: bool | None) -> dict:
    from .builder.pipeline import synthesize
    from .builder.recipe import load_recipe
    from .evaluate import EvalConfig, evaluate
    from .leaderboard.publish import publish as publish_board
    from .train.trainer import train

    check_folder(data, "dataset", replace=True, flag="--out (data)")
    for name in names:
        check_folder(out / "runs" / name, "run", flag=f"--out (runs/{name})")
    for name in (*names, "classical", "blurred"):
        check_folder(out / "results" / name, "eval", replace=True, flag=f"--out (results/{name})")
    summary: dict = {"quick": quick, "params": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
                     "stages": {}, "train": {}, "results": {}}
    t_all = time.perf_counter()

    t0 = time.perf_counter()
    recipe = load_recipe(p["recipe"])
    # OUT is the demo's scratch folder: shards of the same recipe are kept, another recipe's (--quick) replaced
    synthesize(recipe, data, workers=workers, limit=p["limit"], command=f"gyrobench demo (recipe {p['recipe']})",
               overwrite=True, made_by="gyrobench demo")
    summary["stages"]["synth_s"] = time.perf_counter() - t0
    log.info("demo: synth done in %.1f s -> %s", summary["stages"]["synth_s"], data)

    t0 = time.perf_counter()
    checkpoints = {}
    for name in names:
        cfg = demo_config(name, data, crop=p["crop"], batch=p["batch"], steps=p["steps"], seconds=p["seconds"])
        # OUT is the demo's scratch folder: each demo run retrains from scratch (the old run is replaced)
        res = train(cfg, out / "runs" / name, overwrite=True, show_progress=show_progress)
        checkpoints[name] = res["checkpoint"]
        summary["train"][name] = {k: res[k] for k in ("steps", "first_loss", "last_loss", "last_psnr", "seconds",
                                                      "checkpoint")}
    summary["stages"]["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    records = []
    evals = [(name, {"checkpoint": str(checkpoints[name]), "label": DEMO_MODELS[name]["label"]}) for name in names]
    evals += [("classical", {"model": "classical", "label": "classical (per-tile Wiener)"}),
              ("blurred", {"model": "identity", "label": "blurred input"})]
    for name, kw in evals:
        path = evaluate(EvalConfig(data=str(data), out=str(out / "results" / name), split="test",
                                   metrics=tuple(p["metrics"]), limit=p["limit"], command=f"gyrobench demo ({name})",
                                   overwrite=True, **kw))
        records.append(path)
        summary["results"][name] = str(path)
    summary["stages"]["eval_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # a published board must stand on its own (out/ is scratch): each evaluation folder (record, per-image CSV,
    # crops) is copied beside the tables, inside the folder that is swapped in at once
    written = publish_board(records, board, title="gyrobench demo (CPU, minutes of training: not a benchmark)",
                            bundle_records=bool(publish))
    summary["stages"]["leaderboard_s"] = time.perf_counter() - t0
    summary["leaderboard"] = {k: str(v) for k, v in written.items()}
    summary["total_s"] = time.perf_counter() - t_all
    write_text_atomic(out / "demo.json", json.dumps(summary, indent=2))
    log.info("demo: done in %.1f s (synth %.0f s, train %.0f s, eval %.0f s); leaderboard %s", summary["total_s"],
             summary["stages"]["synth_s"], summary["stages"]["train_s"], summary["stages"]["eval_s"], board)
    return summary
