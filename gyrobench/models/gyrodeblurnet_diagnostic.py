"""GyroDeblurNet with three diagnosis options of issue 9 (how far the field reaches the network): a registered variant,
so the paper's network (:class:`~gyrobench.models.gyrodeblurnet.GyroDeblurNet`) takes only its own options.

No published study trains this variant; ``tests/test_learning_health.py`` uses it to show that a field fed at full
resolution carries information that a short run can use. Keys: GyroDeblurNet's, with ``intro`` taking ``2M``
more input channels under ``gyro_concat``. Conventions: those of :mod:`gyrobench.models.gyrodeblurnet`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import RecipeError
from .blocks import alpha_mix
from .gyrodeblurnet import GyroDeblurNet, GyroDeblurringBlock
from .priors import legacy_prior
from .registry import register

__all__ = ["GyroDeblurNetDiagnostic"]


@register(
    "gyrodeblurnet_diagnostic",
    uses_gyro=True,
    citation="gyrobench's diagnostic variant of GyroDeblurNet (Yang et al., CVPR 2025); not in the paper",
    description="GyroDeblurNet with diagnosis options: field scale, offset init, field concatenated to the input",
    legacy_options=lambda options: legacy_prior(options, model="gyrodeblurnet_diagnostic"),
)
class GyroDeblurNetDiagnostic(GyroDeblurNet):
    """GyroDeblurNet's options (``**options``) plus:

    - ``cmf_scale``: multiplies the fields (full-resolution px) before ``intro_gyro`` and ``gyro_concat`` (1.0): the
      displacements are tens of pixels next to images in [0, 1]; ~0.05 puts them on the image's range. The prior,
      if any, gets the unscaled field.
    - ``offset_init``: std of a normal init of the GDBs' offset/modulator conv weights (0 = the official zero init,
      under which the whole gyro branch gets exactly zero gradient until those weights move).
    - ``gyro_concat``: also feed the α-mixed field × ``cmf_scale``, nearest-upsampled to full resolution, as ``2M``
      extra input channels of ``intro``, as DeepGyro does (zeros for the no-gyro ablation).
    """

    def __init__(self, cmf_scale: float = 1.0, offset_init: float = 0.0, gyro_concat: bool = False, **options):
        if not float(cmf_scale) > 0:
            raise RecipeError(f"gyrodeblurnet_diagnostic: cmf_scale must be > 0, got {cmf_scale!r}")
        if float(offset_init) < 0:
            raise RecipeError(f"gyrodeblurnet_diagnostic: offset_init must be >= 0 (std of the offset/modulator "
                              f"weights), got {offset_init!r}")
        # read by the base constructor's hooks, so plain attributes set before nn.Module.__init__
        self.cmf_scale, self.offset_init, self.concat_field = float(cmf_scale), float(offset_init), bool(gyro_concat)
        super().__init__(**options)

    def _extra_intro_channels(self) -> int:
        return self.gyro_channel if self.concat_field else 0

    def _init_extensions(self) -> None:
        if self.offset_init:
            for gdb in self.gyro_deblurring_blks:
                if isinstance(gdb, GyroDeblurringBlock):
                    dcn = gdb.gyro_block.conv_deform
                    nn.init.normal_(dcn.offset_conv.weight, std=self.offset_init)
                    nn.init.normal_(dcn.modulator_conv.weight, std=self.offset_init)

    def _scaled(self, fields):
        if fields is None or self.cmf_scale == 1.0:
            return fields
        clean, noisy, alpha = fields
        scaled = clean * self.cmf_scale
        return scaled, (scaled if noisy is clean else noisy * self.cmf_scale), alpha

    def _gyro_features(self, fields, x0: torch.Tensor) -> torch.Tensor:
        return super()._gyro_features(self._scaled(fields), x0)

    def _intro_inputs(self, inp: torch.Tensor, x0: torch.Tensor, fields):
        parts, base = super()._intro_inputs(inp, x0, fields)
        if self.concat_field:  # the α-mixed field × cmf_scale at full (padded) resolution, nearest ×2
            n, _, hp, wp = x0.shape
            if fields is None:
                up = x0.new_zeros(n, self.gyro_channel, hp, wp)
            else:
                clean, noisy, alpha = fields
                field = alpha_mix(alpha, noisy, clean) * self.cmf_scale
                up = torch.nn.functional.interpolate(field, scale_factor=2, mode="nearest")[..., :hp, :wp].to(x0.dtype)
            parts.insert(1, up)  # before the prior's maps, as the image's neighbour
        return parts, base
