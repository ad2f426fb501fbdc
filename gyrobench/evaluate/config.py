"""``EvalConfig``: everything one evaluation needs, typed and validated like the training config.

The keys mirror the ``gyrobench eval`` flags (dashes become underscores), so ``baselines/*/eval.yaml`` files are
loaded by :func:`load_eval_config` through :func:`gyrobench.config.from_dict`: an unknown key, a missing
required key or a wrong type is one line naming the file and the key, exactly as for the training configs.
Flags given on the command line override the file's keys (``overrides``).

The data source is ``data`` (a synthesized or imported dataset: full-reference and no-reference metrics) or
``captures`` (a folder of capture folders, real photos without a reference: NIQE / TOPIQ on the display-encoded
outputs, :func:`gyrobench.restore.score.evaluate_captures`; the ``--captures`` flag sets the same key).

>>> cfg = EvalConfig(data="data/demo", model="identity")
>>> cfg.metrics, cfg.gyro_field, cfg.out_dir()
(('psnr', 'ssim', 'niqe', 'topiq_nr'), 'noisy', PosixPath('runs/eval/identity'))
>>> cfg = EvalConfig(captures="captures", model="classical")
>>> cfg.metrics, cfg.out_dir()
(('niqe', 'topiq_nr'), PosixPath('runs/eval-captures/classical'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import from_dict, load_mapping
from ..metrics import PROTOCOLS

__all__ = ["EvalConfig", "load_eval_config", "DEFAULT_METRICS", "CAPTURE_METRICS", "GYRO_FIELDS", "MAX_CROPS",
           "MAX_LIMIT"]

DEFAULT_METRICS = ("psnr", "ssim", "niqe", "topiq_nr")
CAPTURE_METRICS = ("niqe", "topiq_nr")  # captures have no reference image
#: keys that mean nothing for captures (the protocol is fixed: display sRGB 8-bit; the field is each capture's own)
_NOT_FOR_CAPTURES = ("official", "split", "protocol", "gyro_field", "limit", "save_images", "no_verify")
GYRO_FIELDS = ("noisy", "clean", "shuffled", "zero")
MAX_CROPS = 1000  # the same bounds for a config file's values as for the flags (gyrobench.commands.args)
MAX_LIMIT = 10**9


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation (docs/metrics.md). Give ``data`` (a dataset) or ``captures`` (a folder of captures,
    docs/captures.md), and ``checkpoint`` (a gyrobench checkpoint, or an official weights file with ``official``)
    or ``model`` (a non-learned model: ``classical`` | ``identity``). ``metrics`` defaults to
    :data:`DEFAULT_METRICS` for a dataset and :data:`CAPTURE_METRICS` for captures."""

    data: str | None = None  # dataset folder (manifest.json + shards)
    captures: str | None = None  # instead of data: a capture folder or a folder of them (no reference)
    checkpoint: str | None = None
    model: str | None = None
    official: str | None = None  # load ``checkpoint`` as an official file of this model
    options: dict[str, Any] = field(default_factory=dict)  # model options, for model/official
    label: str | None = None  # row label in tables (default: the model name)
    split: str = "test"  # "all": every sample
    protocol: str = "gyrodeblurnet_official"
    metrics: tuple[str, ...] | None = None  # default: DEFAULT_METRICS (data) or CAPTURE_METRICS (captures)
    gyro_field: Literal["noisy", "clean", "shuffled", "zero"] = "noisy"  # see gyrobench.evaluate.run
    ci: Literal["t", "bootstrap"] = "t"  # 95 % interval method
    seed: int = 0  # of the bootstrap interval
    limit: int | None = None  # evaluate at most this many images
    device: str = "cpu"
    out: str | None = None  # output folder (default runs/eval/<label or model>)
    save_images: bool = False  # also save every restored image (16-bit linear PNG)
    crops: int = 3  # images with saved visual crops
    crop_size: int = 128  # side of those crops in pixels
    topiq_weights: str | None = None  # file or folder with the TOPIQ weights (never downloaded)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-metric keyword arguments
    no_verify: bool = False  # skip the sha256 check of every shard against the manifest
    command: str | None = None  # recorded as the record's command (default: this process's command line)
    overwrite: bool = False  # replace the record of another evaluation already in ``out``

    def __post_init__(self):
        if (self.data is None) == (self.captures is None):
            raise ValueError("give exactly one data source: 'data: DIR' (a dataset; --data) or 'captures: DIR' (a "
                             "folder of capture folders, no reference; --captures)"
                             + (", not both" if self.data is not None else ""))
        if self.checkpoint is None and self.model is None:
            raise ValueError("give --checkpoint PATH (trained model) or --model classical|identity "
                             "('checkpoint:' or 'model:' in a config file)")
        if self.captures is not None:
            given = [k for k in _NOT_FOR_CAPTURES if getattr(self, k) != EvalConfig.__dataclass_fields__[k].default]
            if given:
                raise ValueError(f"'{given[0]}' does not apply to captures (no reference: NIQE/TOPIQ on display "
                                 "sRGB 8-bit, each capture's own field); remove it, or evaluate a dataset with data:")
            if self.checkpoint is None and self.model not in ("classical", "identity"):
                raise ValueError(f"model={self.model!r}: with captures give --checkpoint PATH or --model "
                                 "classical|identity")
        if self.metrics is None:
            object.__setattr__(self, "metrics", CAPTURE_METRICS if self.captures is not None else DEFAULT_METRICS)
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol={self.protocol!r}: use one of {', '.join(sorted(PROTOCOLS))}")
        if not self.metrics:
            raise ValueError("metrics: give at least one metric name")
        if self.limit is not None and not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit={self.limit}: must be in [1, {MAX_LIMIT}] (or omitted for every image)")
        if not 0 <= self.crops <= MAX_CROPS:
            raise ValueError(f"crops={self.crops}: must be in [0, {MAX_CROPS}]")
        if self.crop_size < 2:
            raise ValueError(f"crop_size={self.crop_size}: must be at least 2 pixels")

    @property
    def dataset_split(self) -> str | None:
        """The split as ``ShardDataset`` takes it (``None`` = every sample)."""
        return None if self.split == "all" else self.split

    def out_dir(self) -> Path:
        name = self.label or self.official or self.model or (Path(self.checkpoint).stem if self.checkpoint else "model")
        return Path(self.out) if self.out else Path("runs") / ("eval-captures" if self.captures else "eval") / name

    def all_metric_options(self) -> dict[str, dict[str, Any]]:
        """``metric_options`` with ``topiq_weights`` folded in."""
        opts = {k: dict(v) for k, v in self.metric_options.items()}
        if self.topiq_weights:
            opts.setdefault("topiq_nr", {})["weights"] = self.topiq_weights
        return opts


def load_eval_config(path: str | Path | None = None, overrides: dict | None = None,
                     source: str = "gyrobench eval") -> EvalConfig:
    """``path``'s keys (YAML/JSON; none when ``path`` is None) updated with ``overrides`` (flags given on the
    command line), validated into an :class:`EvalConfig`; errors name the file (or ``source``) and the key."""
    data = load_mapping(path) if path is not None else {}
    data.update(overrides or {})
    return from_dict(EvalConfig, data, source=str(path) if path is not None else source)
