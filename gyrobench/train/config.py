"""The training config: one YAML file says the whole experiment (STYLE.md, BasicSR options anchor).

Validated with :func:`gyrobench.config.from_dict` (unknown keys, wrong types and bad values raise
:class:`~gyrobench.errors.RecipeError` naming the file and key). Defaults follow the official training protocol
(spec ``gyrodeblurnet.md`` §6.1): Adam lr 1e-4, cosine to 1e-7, batch 16 in total, 256² crops, seed 1234, FP32,
PSNR loss, the §4 curriculum. Example (``configs/demo_nafnet.yaml``)::

    name: demo-nafnet
    model: {name: nafnet, options: {width: 8}}
    data: {root: out/demo/data, split: train, crop: 128, workers: 0}
    schedule: {batch_size: 4, steps: 200}
    degradation: gyrodeblurnet_official
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import differences, from_dict, load_mapping
from ..errors import RecipeError
from ..gyro.cmf import FieldSpec
from .online import OnlineSection

__all__ = ["ModelSection", "DataSection", "ScheduleSection", "LoggingSection", "TrainConfig", "load_train_config",
           "RESUME_MAY_CHANGE", "resume_differences"]


@dataclass
class ModelSection:
    """``gyrobench.models.build(name, **options)``."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        """Check the name and the options against the model's constructor (unknown keys, types) when the config
        is read, not when the model is built after data loading (``gyrobench.models.registry.check_options``)."""
        import difflib

        from ..models.registry import available, check_options

        names = list(available())
        if self.name not in names:
            near = difflib.get_close_matches(self.name, names, n=1)
            raise ValueError(f"name: unknown model {self.name!r}{f' (did you mean {near[0]!r}?)' if near else ''}; "
                             f"registered models: {', '.join(names)} ('gyrobench models' lists them)")
        try:
            check_options(self.name, self.options, source="", prefix="options")
        except RecipeError as exc:
            raise ValueError(str(exc).removeprefix(": ")) from None


@dataclass
class DataSection:
    """Where the training shards are and how samples are cut (see ``gyrobench.data.dataset.ShardDataset``).

    ``online`` (instead of ``root``): synthesize every sample on the fly at crop size, fresh for every draw
    (:class:`gyrobench.train.online.OnlineSection`: procedural or folder images, fitted or recorded hand-shake,
    a strength option), with the renderer, fields and degradation of the stored path. With ``online``, ``root``
    and ``split`` are not read (a study runner may still fill them in).
    """

    root: str | None = None
    split: str | None = "train"
    crop: int | None = 256
    workers: int = 0
    multiprocessing_context: Literal["spawn", "fork", "forkserver"] | None = None
    verify: bool = True
    motion_field: FieldSpec | None = None  # the fields to train on; None: the dataset's own (shards' field_spec)
    online: OnlineSection | None = None

    def __post_init__(self):
        if self.root is None and self.online is None:
            raise ValueError("give 'root' (a synthesized dataset folder) or 'online' (on-the-fly synthesis "
                             "settings; 'root' is then not read)")
        if self.online is not None and self.crop is None:
            raise ValueError("online synthesis needs 'crop' (samples are rendered at crop size)")
        if self.crop is not None and (self.crop <= 0 or self.crop % 8):
            raise ValueError(f"crop={self.crop}: must be a positive multiple of 8 (model padding, field stride 2)")
        if self.crop is not None and self.crop > 16384:
            raise ValueError(f"crop={self.crop}: above the limit of 16384 px; give the crop side in pixels")
        if not 0 <= self.workers <= 1024:
            raise ValueError(f"workers={self.workers}: must be 0..1024")


#: upper bound on steps, epochs and batch size: far above any real run (the official one is 300 epochs of 914
#: steps), low enough that a typo (an extra few zeros) is an error rather than a run that never ends
_MAX_COUNT = 100_000_000


@dataclass
class ScheduleSection:
    """Optimisation schedule. Give exactly one of ``steps`` (optimizer steps) or ``epochs``.

    ``batch_size`` is the global batch (split evenly across DDP processes, like the official 16 in total).
    The cosine schedule decays ``lr`` to ``lr_min`` over the whole run and is stepped per optimizer step
    (the official code steps per epoch over 300 epochs; per step is the same curve at finer granularity).
    ``max_seconds`` (optional): a wall-clock budget; the run stops (and checkpoints) after the first step that
    exceeds it, with the schedule still defined by ``steps``/``epochs`` (the demo uses this for equal time
    budgets; such a run is not reproducible step for step on another machine).
    ``warmup_steps`` (gyrobench extension, default 0 = the official schedule): the learning rate rises linearly
    from ``lr / warmup_steps`` to ``lr`` over the first steps, then follows the cosine over the remaining ones
    (short CPU runs at lr 1e-3 need it).
    ``grad_clip`` (gyrobench extension, default ``None`` = the official schedule, no clipping): the largest global
    L2 norm of the gradients over all parameters, applied before each Adam step
    (``torch.nn.utils.clip_grad_norm_``); a plain ReLU U-Net such as DeepGyro needs it at the learning rates the
    normalised models train at (``docs/cpu-study.md``).
    ``betas`` and ``weight_decay`` (gyrobench extensions; defaults ``[0.9, 0.999]`` and ``0`` = the official Adam):
    Adam's moment decay rates, and decoupled weight decay (``weight_decay > 0`` switches to AdamW, Loshchilov &
    Hutter, ICLR 2019). NAFNet's own GoPro recipe is AdamW with betas ``[0.9, 0.9]`` and gradient-norm clipping at
    0.01 (``docs/training.md``).
    ``lr_mult`` (gyrobench extension; default ``{}`` = one parameter group, the official optimizer): learning-rate
    factors by parameter-name substring, e.g. ``{offset_conv: 0.1, modulator_conv: 0.1}`` (mmengine's
    ``dcn_offset_lr_mult``, BasicSR's ``flow_lr_mul``); the longest matching substring wins, and a key that matches
    no parameter is an error. The warm-up and cosine scale every group's rate by the same factor.
    """

    batch_size: int = 16
    steps: int | None = None
    epochs: int | None = None
    lr: float = 1e-4
    lr_min: float = 1e-7
    max_seconds: float | None = None
    warmup_steps: int = 0
    grad_clip: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    lr_mult: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        for key, mult in self.lr_mult.items():
            if not (isinstance(key, str) and key) or not (math.isfinite(mult) and mult > 0):
                raise ValueError(f"lr_mult: {key!r}: {mult!r}: give a parameter-name substring and a factor > 0 "
                                 "(e.g. {offset_conv: 0.1})")
        self.betas = tuple(float(b) for b in self.betas)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas={list(self.betas)}: give two decay rates in [0, 1), e.g. [0.9, 0.999]")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay={self.weight_decay}: must be >= 0 (0: plain Adam)")
        if self.grad_clip is not None and not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"grad_clip={self.grad_clip}: must be a positive gradient norm (or omitted: no clipping)")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps={self.warmup_steps}: must be >= 0")
        if self.max_seconds is not None and not (0 < self.max_seconds < math.inf):
            raise ValueError(f"max_seconds={self.max_seconds}: must be a positive, finite number of seconds (or "
                             "omitted)")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of 'steps' or 'epochs'")
        for key in ("steps", "epochs", "batch_size"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"{key}={value}: must be at least 1 (a run of no steps would write an untrained "
                                 "checkpoint)")
            if value is not None and value > _MAX_COUNT:
                raise ValueError(f"{key}={value}: above the limit of {_MAX_COUNT:,}; give a realistic value")
        if not 0 <= self.lr_min <= self.lr:
            raise ValueError(f"need 0 <= lr_min <= lr, got lr={self.lr}, lr_min={self.lr_min}")


@dataclass
class LoggingSection:
    """Intervals in optimizer steps (``image_every: 0``: no TensorBoard images)."""

    log_every: int = 10
    checkpoint_every: int = 1000
    keep_checkpoints: bool = False
    tensorboard: bool = True
    image_every: int = 500

    def __post_init__(self):
        for key in ("log_every", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)}: must be at least 1 (steps)")
        if self.image_every < 0:
            raise ValueError(f"image_every={self.image_every}: must be >= 0 (0: no images)")


@dataclass
class TrainConfig:
    """One training run (see the module docstring)."""

    model: ModelSection
    data: DataSection
    name: str = "run"
    schedule: ScheduleSection = field(default_factory=lambda: ScheduleSection(steps=1000))
    degradation: str | None = "gyrodeblurnet_official"
    curriculum: bool = True
    seed: int = 1234
    device: str = "auto"
    amp: bool = False
    find_unused_parameters: bool = False
    logging: LoggingSection = field(default_factory=LoggingSection)
    #: fraction of each batch whose gyro fields are swapped for other samples' fields (0 = off; gyrobench
    #: extension, docs/training.md): teaches a gyro model to fall back when the fields disagree with the image
    gyro_shuffle: float = 0.0
    #: a fixed α of the clean/noisy field mix for the whole run (gyrobench extension; None: the curriculum when
    #: ``curriculum`` is true, else 1). 0 trains on error-free fields only: the paper's ablation (b) (spec §7)
    train_alpha: float | None = None

    def __post_init__(self):
        if self.train_alpha is not None and not 0.0 <= self.train_alpha <= 1.0:
            raise ValueError(f"train_alpha={self.train_alpha}: must be in [0, 1] (0: clean fields, 1: noisy)")
        if self.train_alpha is not None and self.curriculum:
            raise ValueError("train_alpha fixes α for the whole run; set curriculum: false with it")
        if not 0 <= self.seed <= 2**63 - 1:
            raise ValueError(f"seed={self.seed}: give an integer from 0 to 2**63 - 1")
        if not 0.0 <= self.gyro_shuffle <= 1.0:
            raise ValueError(f"gyro_shuffle={self.gyro_shuffle}: must be a fraction in [0, 1] of each batch")


def load_train_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Read and validate a YAML/JSON training config; ``overrides`` (nested dict) are merged on top."""
    data = load_mapping(path)
    if overrides:
        data = _merge(data, overrides)
    return from_dict(TrainConfig, data, source=str(path))


#: dotted config keys that may differ between a checkpoint and the config that resumes it (docs/training.md):
#: the run's length (to extend it), the wall-clock budget, where and how data is read (the dataset itself is
#: checked by its manifest sha256), the device and DDP options, logging, and the run's name. Every other key
#: (model, data.split/crop/motion_field, schedule.batch_size/lr/lr_min, degradation, curriculum, seed, amp) sets
#: the trajectory and must match.
RESUME_MAY_CHANGE = frozenset({
    "name", "schedule.steps", "schedule.epochs", "schedule.max_seconds", "data.root", "data.workers",
    "data.multiprocessing_context", "data.verify", "device", "find_unused_parameters", "logging",
})


def resume_differences(saved: dict, current: dict) -> list[str]:
    """The keys (``"key: old -> new"``) where ``current`` (a config as :func:`gyrobench.config.to_dict` gives it)
    differs from ``saved`` (the checkpoint's ``config``) outside :data:`RESUME_MAY_CHANGE`. Keys present on one
    side only (a config written by another gyrobench version) are not compared."""
    shared = {k: v for k, v in current.items() if k in saved}
    saved = {k: v for k, v in saved.items() if k in current}
    return differences(saved, shared, skip=RESUME_MAY_CHANGE, opaque=("model.options", "data.motion_field"))


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
