"""``data.online`` of a training config: the settings of on-the-fly synthesis (issue 9 item 3).

A training option, so it lives with the training config (:class:`gyrobench.train.config.DataSection`); the
sampler that reads it is :class:`gyrobench.builder.onthefly.OnTheFlyDataset` (the dataset builder's code path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..synth.deadleaves import DeadLeavesParams

__all__ = ["OnlineSection"]


@dataclass
class OnlineSection:
    """On-the-fly synthesis settings (``data.online`` of a training config).

    ``recipe``: builtin name or path of the recipe whose camera, exposure, sub-steps, error model, field M and gyro
    source are used; ``gyro_split``: the recipe split whose gyro source (recording, fitted hand-shake, windows)
    the sampler draws from (default: the first split, which is what every run before 2026-12-08 used) (default ``demo``: 500x500, fx 561.5, 11-sample windows of the
    fitted hand-shake). A relative path is read from the working directory; in a study suite it is resolved
    against the suite's folder first (:func:`gyrobench.study.suite.parse_suite`), like ``dataset.recipe``.
    ``images``: ``builtin:deadleaves`` (procedural, default), ``builtin:kodak`` or a folder of sRGB images (each
    fitted to the recipe's frame like the stored path does). ``image_range``: ``[a, b)`` slice of the sorted files.
    ``strength``: the hand-shake rates are multiplied by it; with ``strength_max`` the factor is uniform in
    ``[strength, strength_max]`` per sample. It replaces the recipe's gyro ``strength`` (never multiplied with it;
    before issue 24 it was, which changed nothing published: the CPU study's recipe has no strength on its
    first split). ``size``: samples per epoch (default: steps x batch, one epoch per
    run). ``deadleaves``: overrides of :class:`gyrobench.synth.deadleaves.DeadLeavesParams`. ``deadleaves_fraction``
    (with ``builtin:kodak`` or a folder; default 0): the probability that a sample's image is a fresh dead-leaves
    image instead of a file (a mixture of real and procedural training images; 0 leaves every draw as it was).
    ``dihedral`` (default false): each file image is drawn in one of its 8 flips and 90-degree rotations (4 flips for
    a non-square frame) before it is cropped and blurred, as NAFNet's ``use_flip``/``use_rot`` augmentation but
    applied to the sharp source, so the blur, the field and the noise are rendered for the transformed image and
    need no transformation themselves; off draws nothing, so other runs keep their draws.
    ``margin``: fixed margin in px around the crop (default: from the poses). ``max_margin``: cap of the automatic
    margin (px).
    """

    recipe: str = "demo"
    gyro_split: str | None = None
    images: str = "builtin:deadleaves"
    image_range: list[int] | None = None
    strength: float = 1.0
    strength_max: float | None = None
    size: int | None = None
    deadleaves: dict[str, Any] = field(default_factory=dict)
    deadleaves_fraction: float = 0.0
    dihedral: bool = False
    margin: int | None = None
    max_margin: int = 160

    def __post_init__(self):
        if not self.strength > 0 or (self.strength_max is not None and self.strength_max < self.strength):
            raise ValueError(f"need strength > 0 and strength_max >= strength, got {self.strength}, "
                             f"{self.strength_max}")
        if self.size is not None and self.size <= 0:
            raise ValueError(f"size={self.size}: must be positive (or omitted)")
        if self.image_range is not None and (len(self.image_range) != 2 or self.image_range[0] >= self.image_range[1]):
            raise ValueError(f"image_range={self.image_range}: give [first, end) with first < end")
        if self.margin is not None and (self.margin < 0 or self.margin % 2):
            raise ValueError(f"margin={self.margin}: must be an even number of px >= 0 (or omitted)")
        if not 0.0 <= self.deadleaves_fraction <= 1.0:
            raise ValueError(f"deadleaves_fraction={self.deadleaves_fraction}: must be in [0, 1]")
        if self.deadleaves_fraction > 0 and self.images == "builtin:deadleaves":
            raise ValueError("deadleaves_fraction mixes dead leaves into builtin:kodak or a folder; with "
                             "images: builtin:deadleaves every image is procedural already (drop the fraction)")
        if self.dihedral and self.images == "builtin:deadleaves":
            raise ValueError("dihedral transforms file images; builtin:deadleaves images are isotropic draws "
                             "already (drop dihedral)")
        if self.deadleaves:
            try:
                DeadLeavesParams(**self.deadleaves)
            except TypeError as exc:
                raise ValueError(f"deadleaves: {exc}; the keys are the fields of DeadLeavesParams") from exc
