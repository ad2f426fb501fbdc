"""DeepGyro (Mustaniemi et al., WACV 2019): a plain U-Net on the blurred image plus a per-pixel blur field.

Spec ``baselines.md`` §3. Architecture of [D-R models.py] (§3.3), re-implemented in PyTorch (no code copied):

- input: blurred RGB ``(B, 3, H, W)`` linear, concatenated with the two blur channels ``(blurx, blury)`` derived
  from the camera-motion field (§3.7, :func:`gyro_inputs.deepgyro_blur_field`) -> 5 channels (R, G, B, bx, by);
- encoder: 5 stages of two 3×3 convs + ReLU (64, 128, 256, 512, 1024 channels at width 64), 2×2 max-pooling
  ("valid", floors odd sizes) between stages;
- decoder: per level a 2×2 stride-2 transposed conv (no activation), zero-padded on the bottom/right to the
  encoder size, **concatenated** as ``[up, skip]``, then two 3×3 convs + ReLU;
- output: 1×1 conv, linear; **no** global residual and no clamp (faithful default; ``residual=True`` adds the
  input as an option). Any ``H×W`` works (no padding of the input is needed).

Parameters at width 64: 31,033,027 (DeepBlind, ``blind=True``: 31,031,875), spec §3.3.
state_dict keys (gyrobench's choice, §3.6): ``enc{1..5}.{0,1}``, ``up{4..1}``, ``dec{4..1}.{0,1}``, ``out``.

Unknowns of the original (documented in ``baselines/deepgyro/README.md``): training crop size, batch size and
schedule; gyrobench trains it with the shared GyroDeblurNet recipe (§3.8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import batch_image
from .gyro_inputs import deepgyro_blur_field, select_cmf
from .registry import register

__all__ = ["DeepGyro"]


@register(
    "deepgyro",
    uses_gyro=True,
    citation="J. Mustaniemi, J. Kannala, S. Särkkä, J. Matas, J. Heikkilä, 'Gyroscope-Aided Motion Deblurring "
    "with Deep Networks', WACV 2019, arXiv:1810.00986",
)
class DeepGyro(nn.Module):
    """DeepGyro U-Net on [blurred RGB, blur field] (baselines.md §3); ``blind=True`` gives DeepBlind.

    Options: ``width`` (channels of the first stage, 64 in the original; the stages use width·2^l),
    ``rounding`` (round the blur vectors to integer px as the original, §3.7 step 3), ``canonical`` (b_y <= 0
    sign rule, §3.2 step 6), ``encode`` ("deepgyro": (b+128)/255 as the original PNG input; "pixels": raw px),
    ``residual`` (add the input to the output; not in the original), ``blind`` (no gyro: DeepBlind),
    ``cmf_key`` ("mix" = α-mix of noisy/clean fields, or "cmf_noisy"/"cmf_clean").
    """

    def __init__(
        self,
        width: int = 64,
        rounding: bool = True,
        canonical: bool = True,
        encode: str = "deepgyro",
        residual: bool = False,
        blind: bool = False,
        cmf_key: str = "mix",
    ):
        super().__init__()
        self.rounding, self.canonical, self.encode = rounding, canonical, encode
        self.residual, self.blind, self.cmf_key = residual, blind, cmf_key
        self.uses_gyro = not blind
        ch = [width * 2**i for i in range(5)]  # 64, 128, 256, 512, 1024
        cin = 3 if blind else 5

        def pair(i, o):
            return nn.ModuleList([nn.Conv2d(i, o, 3, padding=1), nn.Conv2d(o, o, 3, padding=1)])

        self.enc1 = pair(cin, ch[0])
        self.enc2 = pair(ch[0], ch[1])
        self.enc3 = pair(ch[1], ch[2])
        self.enc4 = pair(ch[2], ch[3])
        self.enc5 = pair(ch[3], ch[4])
        self.up4 = nn.ConvTranspose2d(ch[4], ch[3], 2, stride=2)
        self.dec4 = pair(2 * ch[3], ch[3])
        self.up3 = nn.ConvTranspose2d(ch[3], ch[2], 2, stride=2)
        self.dec3 = pair(2 * ch[2], ch[2])
        self.up2 = nn.ConvTranspose2d(ch[2], ch[1], 2, stride=2)
        self.dec2 = pair(2 * ch[1], ch[1])
        self.up1 = nn.ConvTranspose2d(ch[1], ch[0], 2, stride=2)
        self.dec1 = pair(2 * ch[0], ch[0])
        self.out = nn.Conv2d(ch[0], 3, 1)

    @staticmethod
    def _convs(pair: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        for conv in pair:
            x = F.relu(conv(x))
        return x

    def _up(
        self, up: nn.ConvTranspose2d, dec: nn.ModuleList, x: torch.Tensor, skip: torch.Tensor
    ) -> torch.Tensor:
        u = up(x)  # (B, c, 2h, 2w)
        u = F.pad(u, (0, skip.shape[-1] - u.shape[-1], 0, skip.shape[-2] - u.shape[-2]))  # bottom/right zeros
        return self._convs(dec, torch.cat([u, skip], dim=1))

    def gyro_input(self, batch: dict, hw: tuple[int, int]) -> torch.Tensor:
        """The two blur channels ``(B, 2, H, W)`` this model sees (§3.7)."""
        return deepgyro_blur_field(
            select_cmf(batch, self.cmf_key),
            hw,
            rounding=self.rounding,
            canonical=self.canonical,
            encode=self.encode,
        )

    def forward(self, batch) -> torch.Tensor:
        """``batch["blurred"] (B, 3, H, W)`` (+ the batch's CMF unless blind) -> restored ``(B, 3, H, W)``."""
        x = batch_image(batch)
        inp = x if self.blind else torch.cat([x, self.gyro_input(batch, x.shape[-2:]).to(x.dtype)], dim=1)
        e1 = self._convs(self.enc1, inp)
        e2 = self._convs(self.enc2, F.max_pool2d(e1, 2))
        e3 = self._convs(self.enc3, F.max_pool2d(e2, 2))
        e4 = self._convs(self.enc4, F.max_pool2d(e3, 2))
        e5 = self._convs(self.enc5, F.max_pool2d(e4, 2))
        d4 = self._up(self.up4, self.dec4, e5, e4)
        d3 = self._up(self.up3, self.dec3, d4, e3)
        d2 = self._up(self.up2, self.dec2, d3, e2)
        d1 = self._up(self.up1, self.dec1, d2, e1)
        y = self.out(d1)
        return y + x if self.residual else y
