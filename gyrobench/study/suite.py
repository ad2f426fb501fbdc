"""The study suite file: one YAML says the whole study (benchopt's solvers x datasets, BasicSR's option files).

Validated with :func:`gyrobench.config.from_dict` into :class:`Suite` (unknown keys, wrong types and bad values
raise :class:`~gyrobench.errors.RecipeError` naming the file and the dotted key). Example (``studies/smoke.yaml``)::

    name: smoke-study
    dataset:
      recipe: smoke                     # builtin recipe name, or a path relative to this file (as every path here)
      overrides: {splits: [...]}        # top-level recipe keys replaced (optional)
      validation: {split: val, limit: 2}
      test: [test]
    seeds: [1]
    budget: {rule: steps, steps: 4}     # steps | time (seconds) | gmacs (gmac_steps or reference + steps)
    validation_every: 2                 # K optimizer steps between validation checkpoints
    metrics: [psnr, ssim]
    defaults:                           # deep-merged under every run
      data: {crop: 32, workers: 0}
      schedule: {batch_size: 2, lr: 3.0e-4}
      degradation: gyrodeblurnet_official
      curriculum: false
    runs:
      - label: NAFNet tiny
        model: {name: nafnet, options: {width: 8}}
      - label: DeepGyro tiny
        model: {name: deepgyro, options: {width: 8, residual: true}}
        evals: [{label: shuffled fields, gyro_field: shuffled}]

Each run's ``model`` / ``data`` / ``schedule`` / ``degradation`` / ``curriculum`` / ``amp`` / ``gyro_shuffle`` sections go to
:class:`gyrobench.train.config.TrainConfig` unchanged (after the ``defaults`` merge); the runner only adds
``data.root`` (the study's dataset folder) when a run does not name one, the seed, the step count of the budget
rule, and the logging needed for validation checkpoints.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import from_dict, load_mapping
from ..errors import RecipeError
from ..textfiles import inside
from ..train.config import TrainConfig

__all__ = ["DatasetSection", "ValidationSplit", "TestSplit", "Budget", "EvalVariant", "RunSpec", "Suite", "run_seeds",
           "load_suite", "parse_suite", "suite_path", "train_mapping", "merge", "slug"]

#: bounds of a budget: a typo (a few extra zeros, .inf) is an error before any work, not a run that never ends
_MAX_STEPS = 100_000_000
_MAX_SECONDS = 365 * 24 * 3600.0

RUN_KEYS = ("model", "data", "schedule", "degradation", "curriculum", "amp", "gyro_shuffle", "train_alpha")


def merge(base: dict, extra: dict) -> dict:
    """Deep merge: mappings merge key by key, anything else in ``extra`` replaces ``base``'s value."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def slug(text: str) -> str:
    """Folder-safe form of a label: letters, digits, ``.-_``; other runs of characters become ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-").lower() or "run"


@dataclass
class ValidationSplit:
    """The small fixed validation split (never the test split): ``limit`` first images of ``split``."""

    split: str = "val"
    limit: int | None = 4

    def __post_init__(self):
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit={self.limit}: must be >= 1 (or null for the whole split)")


@dataclass
class TestSplit:
    """One test split of the study dataset; ``label`` names it in the tables (default: the split name)."""

    split: str
    label: str | None = None
    limit: int | None = None

    @property
    def name(self) -> str:
        return self.label or self.split


@dataclass
class DatasetSection:
    """The study's dataset: synthesized once into ``OUT/data`` and reused while the recipe is unchanged.

    ``recipe``: builtin name (``smoke``, ``demo``, ...) or a YAML path relative to the suite file.
    ``overrides``: top-level recipe keys replaced before validation (e.g. ``splits`` to add a validation split).
    ``limit``: at most this many samples per split (``gyrobench synth --limit``).
    """

    recipe: str
    validation: ValidationSplit = field(default_factory=ValidationSplit)
    test: list[TestSplit | str] = field(default_factory=lambda: ["test"])
    overrides: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None

    def __post_init__(self):
        self.test = [t if isinstance(t, TestSplit) else TestSplit(split=t) for t in self.test]
        if not self.test:
            raise ValueError("test: give at least one test split")
        names = [t.name for t in self.test]
        if len(set(names)) != len(names):
            raise ValueError(f"test: split labels must be unique, got {names}")
        if self.validation.split in {t.split for t in self.test}:
            raise ValueError(f"validation.split={self.validation.split!r} is also a test split; validate on a "
                             "split of its own (never tune on the test split)")


@dataclass
class Budget:
    """The rule that makes runs comparable (the tables state it):

    - ``steps``: every run trains ``steps`` optimizer steps;
    - ``time``: every run trains ``seconds`` of wall-clock (checkpoint writes and validation excluded); its
      step count (the length of its cosine schedule) comes from a timed calibration of ``calibration_steps``
      steps after one warm-up step, and ``schedule.max_seconds = seconds`` stops it;
    - ``gmacs``: every run gets the same forward GMACs x samples: ``steps = floor(G / (gmacs(crop) * batch))``
      with ``G = gmac_steps`` or, with ``reference: LABEL``, ``G = gmacs_ref(crop) * batch_ref * steps``
      (GMACs of one crop from :func:`gyrobench.models.complexity.model_complexity`).
    """

    rule: Literal["steps", "time", "gmacs"] = "steps"
    steps: int | None = None
    seconds: float | None = None
    gmac_steps: float | None = None
    reference: str | None = None
    calibration_steps: int = 5

    def __post_init__(self):
        if self.rule == "steps" and not (self.steps and self.steps > 0):
            raise ValueError("rule 'steps' needs steps: N (> 0)")
        if self.rule == "time" and not (self.seconds and self.seconds > 0):
            raise ValueError("rule 'time' needs seconds: S (> 0)")
        if self.rule == "gmacs":
            if (self.gmac_steps is None) == (self.reference is None):
                raise ValueError("rule 'gmacs' needs exactly one of gmac_steps: G or reference: LABEL (with steps)")
            if self.gmac_steps is not None and self.gmac_steps <= 0:
                raise ValueError(f"gmac_steps={self.gmac_steps}: must be > 0")
            if self.reference is not None and not (self.steps and self.steps > 0):
                raise ValueError("rule 'gmacs' with reference: LABEL needs steps: N (the reference run's steps)")
        for key in ("steps", "calibration_steps"):
            v = getattr(self, key)
            if v is not None and v > _MAX_STEPS:
                raise ValueError(f"{key}={v}: above the limit of {_MAX_STEPS:,} steps; give a realistic value")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds <= _MAX_SECONDS):
            raise ValueError(f"seconds={self.seconds}: give a finite training time up to {_MAX_SECONDS:g} s "
                             "(a year)")
        if self.gmac_steps is not None and not math.isfinite(self.gmac_steps):
            raise ValueError(f"gmac_steps={self.gmac_steps}: must be a finite number")
        if self.calibration_steps < 1:
            raise ValueError(f"calibration_steps={self.calibration_steps}: must be >= 1")


@dataclass
class EvalVariant:
    """An extra test-time evaluation of a run's final checkpoint (an extra row): ``gyro_field`` ``shuffled``
    (another test image's field), ``zero`` (no motion), ``clean`` (oracle gyro) or ``noisy`` (the protocol)."""

    gyro_field: Literal["noisy", "clean", "shuffled", "zero"]
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or f"{self.gyro_field} fields"


@dataclass
class RunSpec:
    """One trained model of the study (a row per test split, plus one per ``evals`` variant)."""

    label: str
    model: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    degradation: str | None = None
    curriculum: bool | None = None
    amp: bool | None = None
    gyro_shuffle: float | None = None
    #: a fixed clean/noisy field mix for the run (TrainConfig.train_alpha; 0: error-free fields, ablation b)
    train_alpha: float | None = None
    evals: list[EvalVariant] = field(default_factory=list)
    #: the seeds of this run (a subset of the suite's ``seeds``; default: all of them)
    seeds: list[int] | None = None

    def __post_init__(self):
        if not slug(self.label) or not self.label.strip():
            raise ValueError("label: must not be empty")
        if "name" not in self.model:
            raise ValueError(f"run '{self.label}': model needs 'name' (a registered model, see 'gyrobench models')")


@dataclass
class References:
    """Non-learned rows evaluated once per test split: the classical per-tile Wiener filter (``classical``), the
    same with the field-consistency check (``classical_check``, ``deconvolve(check=True)``), the blurred input;
    ``shuffled``: the classical rows also with other samples' fields (as a run's ``gyro_field: shuffled`` eval)."""

    classical: bool = True
    classical_check: bool = False
    shuffled: bool = False
    blurred: bool = True

    def keys(self) -> list[str]:
        """The reference rows to evaluate, in table order (keys of ``runner.REFERENCE_ROWS``)."""
        out = []
        for key in ("classical", "classical_check"):
            if getattr(self, key):
                out += [key, key + "_shuffled"] if self.shuffled else [key]
        return out + (["blurred"] if self.blurred else [])


@dataclass
class Suite:
    """A whole study (see the module docstring)."""

    name: str
    dataset: DatasetSection
    runs: list[RunSpec]
    budget: Budget
    seeds: list[int] = field(default_factory=lambda: [1234])
    validation_every: int = 100
    metrics: list[str] = field(default_factory=lambda: ["psnr", "ssim"])
    protocol: str = "gyrodeblurnet_official"
    blur_bins: list[float] | None = None
    references: References = field(default_factory=References)
    defaults: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    description: str = ""
    publish_max_mb: float = 10.0
    crops: int = 3  # test images with saved visual crops per evaluation record (0: none; keeps boards small)

    # set by parse_suite: the file, and each run's sections as written (merged over ``defaults``)
    source: str = field(default="<suite>", repr=False)
    run_sections: list[dict] = field(default_factory=list, repr=False)

    def __post_init__(self):
        if not self.runs:
            raise ValueError("runs: give at least one run")
        labels = [r.label for r in self.runs]
        slugs = [slug(x) for x in labels]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"runs: labels must be unique (also as folder names), got {labels}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: give one or more distinct integers, got {self.seeds}")
        for r in self.runs:
            if r.seeds is not None and (not r.seeds or not set(r.seeds) <= set(self.seeds)
                                        or len(set(r.seeds)) != len(r.seeds)):
                raise ValueError(f"run '{r.label}': seeds {r.seeds} must be distinct seeds of the suite's "
                                 f"{self.seeds}")
        bad_seed = [s for s in self.seeds if not 0 <= s <= 2**63 - 1]
        if bad_seed:
            raise ValueError(f"seeds: {bad_seed[0]} is out of range; give integers from 0 to 2**63 - 1")
        if self.validation_every < 1:
            raise ValueError(f"validation_every={self.validation_every}: must be >= 1")
        if "psnr" not in self.metrics:
            raise ValueError("metrics: must include 'psnr' (the learning curves and blur bins use it)")
        if self.blur_bins is not None and (len(self.blur_bins) < 2
                                           or any(b >= c for b, c in zip(self.blur_bins, self.blur_bins[1:]))):
            raise ValueError(f"blur_bins={self.blur_bins}: give at least 2 increasing edges in px")
        bad = [k for k in self.defaults if k not in RUN_KEYS]
        if bad:
            raise ValueError(f"defaults: unknown key(s) {bad}; valid keys: {', '.join(RUN_KEYS)}")
        if self.budget.reference is not None and self.budget.reference not in labels:
            raise ValueError(f"budget.reference={self.budget.reference!r} is not a run label ({labels})")
        if self.crops < 0:
            raise ValueError(f"crops={self.crops}: must be >= 0")
        if self.publish_max_mb <= 0:
            raise ValueError(f"publish_max_mb={self.publish_max_mb}: must be > 0")


def suite_path(value: str, base_dir: str | Path, folder: bool = False) -> str:
    """A path written in a suite, resolved against the suite's folder ``base_dir``: ``base_dir / value`` when that
    is a file (``folder``: a folder), else ``value`` as written (a builtin recipe name, an absolute path; a suite written before issue 24
    named its on-the-fly recipe relative to the working directory, and still loads from the repository root).

    With the suite given as a relative path (``studies/cpu.yaml``), the result is relative too
    (``studies/cpu-data.yaml``), so the training configs, hence their sha256, do not depend on where the
    repository is."""
    cand = Path(base_dir) / value
    found = cand.is_dir() if folder else cand.is_file()
    return str(cand) if not Path(value).is_absolute() and found else value


def parse_suite(data: dict, source: str = "<suite>", base_dir: str | Path | None = None) -> Suite:
    """Validate a suite mapping (see the module docstring). Every run's training config is validated too
    (``TrainConfig``), so a bad key in ``model``/``data``/``schedule`` fails here with the run named."""
    if "source" in data or "run_sections" in data:
        key = "source" if "source" in data else "run_sections"
        raise RecipeError(f"{source}: unknown key '{key}'; it is set by gyrobench, remove it")
    suite = from_dict(Suite, data, source=source)
    suite.source = source
    suite.run_sections = [merge(suite.defaults, {k: r[k] for k in RUN_KEYS if k in r}) for r in data["runs"]]
    if base_dir is not None:
        if not Path(suite.dataset.recipe).is_absolute() and (Path(base_dir) / suite.dataset.recipe).is_file():
            # a recipe file named relative to the suite stays inside the suite's folder
            inside(base_dir, suite.dataset.recipe, f"{source}: dataset.recipe", RecipeError)
        suite.dataset.recipe = suite_path(suite.dataset.recipe, base_dir)
        for sec in suite.run_sections:
            online = (sec.get("data") or {}).get("online")
            if isinstance(online, dict):
                for key in ("recipe", "images"):
                    if isinstance(online.get(key), str) and not online[key].startswith("builtin:"):
                        online[key] = suite_path(online[key], base_dir, folder=key == "images")
    for i, run in enumerate(suite.runs):
        cfg = train_mapping(suite, i, seed=suite.seeds[0], steps=1, data_root="<study data>")
        from_dict(TrainConfig, cfg, source=f"{source}: runs[{i}] ({run.label})")
    return suite


def run_seeds(suite: Suite, index: int) -> list[int]:
    """The seeds run ``index`` is trained with: its own ``seeds`` or the suite's, in the suite's order."""
    own = suite.runs[index].seeds
    return [s for s in suite.seeds if own is None or s in own]


def train_mapping(suite: Suite, index: int, *, seed: int, steps: int, data_root: str | Path,
                  max_seconds: float | None = None) -> dict:
    """The :class:`~gyrobench.train.config.TrainConfig` mapping of run ``index`` with ``seed`` and ``steps``.

    The run's sections (over ``defaults``) go in unchanged; added: ``data.root`` when not given, ``seed``,
    ``schedule.steps`` (the budget rule's; a given ``epochs``/``steps`` is replaced), ``max_seconds`` for the
    time rule, the device, and logging for the validation checkpoints (one ``step-N.pt`` every
    ``validation_every`` steps, a metrics line every step, no TensorBoard).
    """
    run = suite.runs[index]
    sec = copy.deepcopy(suite.run_sections[index])
    data = dict(sec.get("data") or {})
    data.setdefault("root", str(data_root))
    schedule = {k: v for k, v in (sec.get("schedule") or {}).items() if k not in ("steps", "epochs", "max_seconds")}
    schedule["steps"] = int(steps)
    if max_seconds is not None:
        schedule["max_seconds"] = float(max_seconds)
    cfg = {"name": slug(run.label), "model": sec["model"], "data": data, "schedule": schedule}
    for key in ("degradation", "curriculum", "amp", "gyro_shuffle", "train_alpha"):
        if key in sec:
            cfg[key] = sec[key]
    cfg.update(seed=int(seed), device=suite.device,
               logging={"log_every": 1, "checkpoint_every": suite.validation_every, "keep_checkpoints": True,
                        "tensorboard": False, "image_every": 0})
    return cfg


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; its relative paths (``dataset.recipe``, each run's ``data.online.recipe``
    and ``data.online.images``) are resolved against the suite's folder (:func:`suite_path`)."""
    path = Path(path)
    return parse_suite(load_mapping(path), source=str(path), base_dir=path.parent)
