"""Blur synthesis and realistic degradation (issue 4 items 1-2; specs rsblur.md, gyrodeblurnet.md §1).

- :mod:`~gyrobench.color`: sRGB <-> linear (IEC 61966-2-1), A7R3 CRF.
- :mod:`~gyrobench.synth.blur`: :func:`render_blur` (warp + average in linear light, crop, valid, sat mask),
  :func:`blur_homographies` (adaptive pose count).
- :mod:`~gyrobench.synth.degrade`: :class:`Degradation` (one module, presets as data in
  :mod:`~gyrobench.synth.presets`), :class:`DegradationDraw`.
- :mod:`~gyrobench.build.pipeline`: recipe -> shards.
"""

from gyrobench.color import a7r3_crf, linear_to_srgb, srgb_to_linear
from gyrobench.synth.blur import blur_homographies, centre_crop_box, render_blur, saturation_mask
from gyrobench.synth.degrade import Degradation, DegradationDraw
from gyrobench.synth.presets import PRESETS, PresetParams, get_preset

__all__ = [
    "render_blur",
    "saturation_mask",
    "blur_homographies",
    "centre_crop_box",
    "srgb_to_linear",
    "linear_to_srgb",
    "a7r3_crf",
    "Degradation",
    "DegradationDraw",
    "PRESETS",
    "PresetParams",
    "get_preset",
]
