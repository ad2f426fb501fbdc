"""NAFNet (Chen, Chu, Zhang, Sun, "Simple Baselines for Image Restoration", ECCV 2022, arXiv 2204.04676).

Re-implemented from baselines.md §2.3–§2.6 (no code copied). Attribute names reproduce the official state_dict
keys exactly (listed from the released checkpoints; docs/models.md), so released checkpoints load with
``gyrobench.models.load_official("nafnet", path, width=...)``.

Tensors: images ``(B, 3, H, W)`` float32, linear RGB in the benchmark (the official GoPro weights were trained on
sRGB images, so they are out of domain here; baselines.md §2.2). The model zero-pads the image bottom/right to a
multiple of 16 (2^levels), adds the padded input as a global residual and crops back to H×W.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import RecipeError
from .blocks import batch_image
from .padding import crop_to, pad_to_multiple
from .registry import register

__all__ = ["LayerNorm2d", "SimpleGate", "NAFBlock", "LocalAvgPool2d", "NAFNetArch", "NAFNet", "GOPRO_CONFIGS"]

# baselines.md §2.4: GoPro configurations
GOPRO_CONFIGS = {
    32: dict(width=32, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1)),
    64: dict(width=64, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1)),
}


class LayerNorm2d(nn.Module):
    """Per-pixel LayerNorm over channels: (x − μ_c)/√(σ²_c + eps)·w + b, biased variance, eps = 1e-6 (§2.3).

    Input/output ``(B, C, H, W)``; implemented with ``F.layer_norm`` on a channels-last view (exact gradient).
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class SimpleGate(nn.Module):
    """Split channels in two halves and multiply them: ``(B, 2c, H, W) -> (B, c, H, W)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class LocalAvgPool2d(nn.Module):
    """TLC local average pooling (baselines.md §2.6): replaces SCA's global pooling at test time.

    With kernel (kh, kw) fixed from the training size: if the kernel covers the whole map (both dimensions) it is
    global average pooling; otherwise the box mean of size (min(H, kh), min(W, kw)) over every *valid* window,
    replicate-padded symmetrically back to H×W (the odd extra pixel on the bottom/right).
    """

    def __init__(self, kernel_size: tuple[int, int]):
        super().__init__()
        self.kernel_size = (int(kernel_size[0]), int(kernel_size[1]))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        kh, kw = self.kernel_size
        if kh >= h and kw >= w:
            return x.mean(dim=(-2, -1), keepdim=True)
        k1, k2 = min(h, kh), min(w, kw)
        out = F.avg_pool2d(x, (k1, k2), stride=1)  # (H−k1+1, W−k2+1) valid box means
        dh, dw = h - out.shape[-2], w - out.shape[-1]
        return F.pad(out, (dw // 2, (dw + 1) // 2, dh // 2, (dh + 1) // 2), mode="replicate")


class NAFBlock(nn.Module):
    """NAFBlock(c), DW_Expand = FFN_Expand = 2, no dropout (baselines.md §2.3 table; gyrodeblurnet.md §5.3).

    ``y = x + β·conv3(SCA(SG(conv2(conv1(norm1(x))))))``; ``out = y + γ·conv5(SG(conv4(norm2(y))))``; β = γ = 0 at
    init (the block starts as the identity). Parameters: 7c² + 33c. ``(B, c, H, W) -> (B, c, H, W)``.
    """

    def __init__(self, c: int):
        super().__init__()
        dw = 2 * c
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)  # depthwise
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        ffn = 2 * c
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(self.norm1(inp)))  # (B, 2c, H, W)
        x = self.sg(x)  # (B, c, H, W)
        x = x * self.sca(x)  # simplified channel attention
        y = torch.addcmul(inp, self.conv3(x), self.beta)  # inp + β·conv3(x), one fused pass
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return torch.addcmul(y, x, self.gamma)  # y + γ·x


class NAFNetArch(nn.Module):
    """The NAFNet U-Net on tensors: ``forward(x (B, 3, H, W)) -> (B, 3, H, W)`` (baselines.md §2.3 list).

    Modules ``intro, ending, encoders, decoders, middle_blks, ups, downs`` (the official names).
    """

    def __init__(
        self, img_channel=3, width=32, enc_blk_nums=(1, 1, 1, 28), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1)
    ):
        super().__init__()
        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.middle_blks = nn.Sequential()  # placeholder: keeps the official state_dict key order
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        c = width
        for n in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(c) for _ in range(middle_blk_num)])
        for n in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
        self.padder_size = 2 ** len(enc_blk_nums)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x0, size = pad_to_multiple(inp, self.padder_size)  # zeros, bottom/right
        x = self.intro(x0)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)  # skips are added, not concatenated
        x = self.ending(x) + x0  # global residual on the padded input
        return crop_to(x, size)


def tlc_kernel_sizes(enc_levels: int, train_size: int = 256, base_ratio: float = 1.5) -> list[int]:
    """TLC pooling kernel per U-Net level (0 = full resolution … enc_levels = bottom): the feature size at the
    training input times ``base_ratio`` (384 / 192 / 96 / 48 / 24 for 256×256 and 4 levels; baselines.md §2.6)."""
    base = int(train_size * base_ratio)
    return [(train_size >> lvl) * base // train_size for lvl in range(enc_levels + 1)]


@register(
    "nafnet",
    uses_gyro=False,
    citation="L. Chen, X. Chu, X. Zhang, J. Sun, Simple Baselines for Image Restoration, ECCV 2022 (arXiv 2204.04676)",
    description="NAFNet single-image deblurring U-Net (GoPro configs width 32/64, optional TLC)",
)
class NAFNet(NAFNetArch):
    """NAFNet, GoPro config (``width`` 32 or 64) behind the batch-dict interface; ignores gyro keys.

    Options: ``width`` (32 | 64), ``tlc`` (test-time local statistics, §2.6: every SCA pooling becomes a
    :class:`LocalAvgPool2d` whose kernel is 1.5× the level's feature size at a ``train_size``² input),
    ``train_size`` (256), and the architecture lists for custom (e.g. tiny test) configs.
    """

    def __init__(
        self,
        width: int = 32,
        tlc: bool = False,
        train_size: int = 256,
        enc_blk_nums=None,
        middle_blk_num=None,
        dec_blk_nums=None,
    ):
        cfg = dict(GOPRO_CONFIGS.get(width, GOPRO_CONFIGS[32]))
        cfg["width"] = width
        if enc_blk_nums is not None:
            cfg["enc_blk_nums"] = tuple(enc_blk_nums)
        if middle_blk_num is not None:
            cfg["middle_blk_num"] = int(middle_blk_num)
        if dec_blk_nums is not None:
            cfg["dec_blk_nums"] = tuple(dec_blk_nums)
        if len(cfg["enc_blk_nums"]) != len(cfg["dec_blk_nums"]):
            raise RecipeError(
                f"nafnet: enc_blk_nums {cfg['enc_blk_nums']} and dec_blk_nums {cfg['dec_blk_nums']} "
                "must have the same length"
            )
        super().__init__(**cfg)
        self.tlc = bool(tlc)
        if tlc:
            self.enable_tlc(train_size)

    def enable_tlc(self, train_size: int = 256) -> None:
        """Replace every SCA global pooling with TLC local pooling (no parameter changes)."""
        levels = len(self.encoders)
        kernels = tlc_kernel_sizes(levels, train_size)
        groups = [(enc, lvl) for lvl, enc in enumerate(self.encoders)]
        groups += [(self.middle_blks, levels)]
        groups += [(dec, levels - 1 - i) for i, dec in enumerate(self.decoders)]
        for seq, lvl in groups:
            for block in seq:
                block.sca[0] = LocalAvgPool2d((kernels[lvl], kernels[lvl]))

    def forward(self, batch) -> torch.Tensor:  # type: ignore[override]
        return super().forward(batch_image(batch))
