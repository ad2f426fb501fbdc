"""EggNet (Ji et al., IEEE Access 2021): a U-Net whose front modules are gyro-guided deformable convolutions.

Spec ``baselines.md`` §4 (structure from the paper [E-P]; its layer table was not readable, so every size below
is a gyrobench decision, §4.7, exposed as an option). Re-implemented from the prose; no code exists or was copied.

- input: blurred RGB ``(B, 3, H, W)`` linear and the motion-guidance vectors (MGVs) ``(B, 4, H, W)`` in pixels,
  channels ``[pre_x, pre_y, pro_x, pro_y]`` (§4.3, :func:`gyro_inputs.eggnet_mgv`);
- ``head``: 3×3 conv 3 -> c;
- **GTM** (level 0, c ch): the MGO (motion-guidance offset, 2·3·3 = 18 ch, torchvision layout (dy, dx) per tap in
  feature pixels) = 3×3 conv on the MGVs (zero-initialised, option); 3×3 DCNv1 (no modulation mask, §4.4) with that
  offset; ReLU; ``enc_blocks`` residual blocks (conv3×3–ReLU–conv3×3, identity skip);
- ``down1``: 3×3 conv stride 2, c -> 2c; **IGTM 1** (level 1): Conv A (3×3 stride 2, 18 -> 18) on the previous
  MGO; Conv B (3×3, 2c -> 18) on the features; MGO = Conv D(ReLU(Conv C([A(MGO_P), B(F)]))) with C: 36 -> 2c and
  D: 2c -> 18 zero-initialised (the DCN starts as a plain conv); DCNv1 2c -> 2c; ReLU; residual blocks;
- ``down2`` and **IGTM 2** at level 2 (4c ch) likewise;
- bottleneck: ``down3`` 3×3 stride 2 to 8c ch, ``mid_blocks`` residual blocks;
- decoder per level (2, 1, 0): 2×2 stride-2 transposed conv up, **concatenate** the encoder skip, 1×1 fusion
  conv, ``dec_blocks`` residual blocks; ``tail``: 3×3 conv c -> 3; output = input + residual.

The input is zero-padded on the bottom/right to a multiple of 8 (three stride-2 stages; the MGVs are padded by
edge replication) and the output cropped back. Default width 32 gives 7,200,465 parameters (the paper implies
about 6 M, §4.4: one fifth of DeepGyro's 31.03 M; ``mid_blocks=3`` gives 6,020,305); the tests check the count against a
closed-form formula.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import batch_image
from .dcn import DeformConvModule
from .gyro_inputs import eggnet_mgv, select_cmf
from .padding import crop_to, pad_to_multiple
from .registry import register

__all__ = ["EggNet", "DCNv1", "GTM", "IGTM", "ResBlock"]

_MGO = 18  # 2 * 3 * 3 offsets of a 3x3 deformable conv


class ResBlock(nn.Module):
    """conv3×3 – ReLU – conv3×3 plus the identity."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class DCNv1(DeformConvModule):
    """3×3 deformable conv (Dai et al. 2017): externally given offsets ``(B, 18, H, W)``, no mask, bias.

    Offsets follow torchvision's layout (channel 2k = Δy, 2k+1 = Δx of tap k, feature pixels); with zero offsets
    this is exactly ``nn.Conv2d(c_in, c_out, 3, padding=1)``.
    """

    def __init__(self, c_in: int, c_out: int, backend: str = "auto"):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c_out, c_in, 3, 3))
        self.bias = nn.Parameter(torch.empty(c_out))
        ref = nn.Conv2d(c_in, c_out, 3, padding=1)  # default PyTorch conv init
        with torch.no_grad():
            self.weight.copy_(ref.weight)
            self.bias.copy_(ref.bias)
        self.backend = backend

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self.deform(x, offset, self.weight, self.bias, 1, 1, 1, None)


class GTM(nn.Module):
    """Gyro-aided transformation module (§4.4): offsets from the MGVs only. Returns ``(features, MGO)``."""

    def __init__(self, c: int, blocks: int, zero_init: bool = False, backend: str = "auto"):
        super().__init__()
        self.mgo = nn.Conv2d(4, _MGO, 3, padding=1)
        nn.init.zeros_(self.mgo.bias)
        if zero_init:
            nn.init.zeros_(self.mgo.weight)
        self.dcn = DCNv1(c, c, backend)
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(blocks)])

    def forward(self, feat: torch.Tensor, mgv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mgo = self.mgo(mgv)
        return self.blocks(F.relu(self.dcn(feat, mgo))), mgo


class IGTM(nn.Module):
    """Image-gyro-aided transformation module (§4.4): refines the previous MGO with the features.

    ``MGO = D(ReLU(C([A(MGO_P), B(F)])))`` with A stride 2, D zero-initialised. Returns ``(features, MGO)``.
    """

    def __init__(self, c: int, blocks: int, backend: str = "auto"):
        super().__init__()
        self.conv_a = nn.Conv2d(_MGO, _MGO, 3, stride=2, padding=1)
        self.conv_b = nn.Conv2d(c, _MGO, 3, padding=1)
        self.conv_c = nn.Conv2d(2 * _MGO, c, 3, padding=1)
        self.conv_d = nn.Conv2d(c, _MGO, 3, padding=1)
        nn.init.zeros_(self.conv_d.weight)
        nn.init.zeros_(self.conv_d.bias)
        self.dcn = DCNv1(c, c, backend)
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(blocks)])

    def forward(self, feat: torch.Tensor, mgo_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        down = self.conv_a(mgo_prev)
        mgo = self.conv_d(F.relu(self.conv_c(torch.cat([down, self.conv_b(feat)], dim=1))))
        return self.blocks(F.relu(self.dcn(feat, mgo))), mgo


class _Up(nn.Module):
    """2×2 stride-2 transposed conv, concatenate the skip, 1×1 fusion conv, residual blocks."""

    def __init__(self, c_in: int, c: int, blocks: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c, 2, stride=2)
        self.fuse = nn.Conv2d(2 * c, c, 1)
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(blocks)])

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.fuse(torch.cat([self.up(x), skip], dim=1)))


@register(
    "eggnet",
    uses_gyro=True,
    citation="S. Ji, J.-P. Hong, J. Lee, S.-J. Baek, S.-J. Ko, 'Robust Single Image Deblurring Using Gyroscope "
    "Sensor', IEEE Access 9, 2021, doi:10.1109/ACCESS.2021.3084968 (re-implemented; layer sizes assumed)",
)
class EggNet(nn.Module):
    """EggNet (re-implemented from the IEEE Access paper; layer sizes assumed), baselines.md §4.7.

    Options: ``width`` (level-0 channels, 32), ``enc_blocks`` / ``dec_blocks`` (residual blocks per encoder /
    decoder level, 2), ``mid_blocks`` (bottleneck, 4), ``gtm_zero_init`` (default True: the GTM's MGO conv weight
    and bias start at zero, so every DCN starts as a plain conv, §4.7 "zero-initialising the last offset conv makes
    each DCN start as a plain conv"; False: default weight init and zero bias, the literal table entry of §4.7,
    which with GyroBlur-Synth's MGVs of tens of px gives initial offsets of ~20 px), ``dcn_backend``
    ("auto" | "torch" | "torchvision"), ``cmf_key`` ("mix" | "cmf_noisy" | "cmf_clean").
    """

    def __init__(
        self,
        width: int = 32,
        enc_blocks: int = 2,
        dec_blocks: int = 2,
        mid_blocks: int = 4,
        gtm_zero_init: bool = True,
        dcn_backend: str = "auto",
        cmf_key: str = "mix",
    ):
        super().__init__()
        c = [width * 2**i for i in range(4)]
        self.cmf_key = cmf_key
        self.head = nn.Conv2d(3, c[0], 3, padding=1)
        self.gtm = GTM(c[0], enc_blocks, gtm_zero_init, dcn_backend)
        self.down1 = nn.Conv2d(c[0], c[1], 3, stride=2, padding=1)
        self.igtm1 = IGTM(c[1], enc_blocks, dcn_backend)
        self.down2 = nn.Conv2d(c[1], c[2], 3, stride=2, padding=1)
        self.igtm2 = IGTM(c[2], enc_blocks, dcn_backend)
        self.down3 = nn.Conv2d(c[2], c[3], 3, stride=2, padding=1)
        self.middle = nn.Sequential(*[ResBlock(c[3]) for _ in range(mid_blocks)])
        self.up2 = _Up(c[3], c[2], dec_blocks)
        self.up1 = _Up(c[2], c[1], dec_blocks)
        self.up0 = _Up(c[1], c[0], dec_blocks)
        self.tail = nn.Conv2d(c[0], 3, 3, padding=1)

    def gyro_input(self, batch: dict, hw: tuple[int, int]) -> torch.Tensor:
        """The MGVs ``(B, 4, H, W)`` this model sees (§4.3), in pixels."""
        return eggnet_mgv(select_cmf(batch, self.cmf_key), hw)

    def forward(self, batch) -> torch.Tensor:
        """``batch["blurred"] (B, 3, H, W)`` + the batch's CMF -> restored ``(B, 3, H, W)``, linear."""
        x = batch_image(batch)
        mgv = self.gyro_input(batch, x.shape[-2:]).to(x.dtype)
        xp, size = pad_to_multiple(x, 8)
        mgv, _ = pad_to_multiple(mgv, 8, mode="replicate")
        f0, mgo = self.gtm(self.head(xp), mgv)  # level 0
        f1, mgo = self.igtm1(self.down1(f0), mgo)  # level 1
        f2, _ = self.igtm2(self.down2(f1), mgo)  # level 2
        y = self.middle(self.down3(f2))  # level 3
        y = self.up0(self.up1(self.up2(y, f2), f1), f0)
        return crop_to(self.tail(y) + xp, size)
