"""Blur rendering and realistic degradation (issue 4 items 1-2; specs rsblur.md, gyrodeblurnet.md §1).

Imports only :mod:`gyrobench.gyro`, :mod:`gyrobench.color` and the base modules (docs/architecture.md); building
datasets from recipes is :mod:`gyrobench.builder`. The colour functions of :mod:`gyrobench.color` (sRGB <-> linear,
A7R3 CRF) are re-exported here for convenience.

- :mod:`~gyrobench.synth.blur`: :func:`render_blur` (warp + average in linear light, crop, valid, sat mask),
  :func:`blur_homographies` (adaptive pose count).
- :mod:`~gyrobench.synth.degrade`: :class:`Degradation` (one module, presets as data in
  :mod:`~gyrobench.synth.presets`), :class:`DegradationDraw`.
"""

from gyrobench.color import a7r3_crf, linear_to_srgb, srgb_to_linear
from gyrobench.synth.blur import blur_homographies, render_blur, saturation_mask
from gyrobench.synth.degrade import Degradation, DegradationDraw
from gyrobench.synth.presets import PRESETS, PresetParams, get_preset

__all__ = [
    "render_blur",
    "saturation_mask",
    "blur_homographies",
    "srgb_to_linear",
    "linear_to_srgb",
    "a7r3_crf",
    "Degradation",
    "DegradationDraw",
    "PRESETS",
    "PresetParams",
    "get_preset",
]
