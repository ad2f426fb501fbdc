"""GyroDeblurNet (Yang, Rim, Baek, Cho, "Gyro-based Neural Single Image Deblurring", CVPR 2025, arXiv 2404.00916).

Re-implemented from the spec ``gyrodeblurnet.md`` §5 (architecture), §4 (α mix of clean/noisy fields) and §9
items 6–9; no code copied. The attribute names give exactly the 570 state_dict keys and shapes of the official
model (listed from the released checkpoint; 16,311,296 parameters; docs/models.md), so the official checkpoint
loads with ``strict=True`` through ``gyrobench.models.load_official("gyrodeblurnet", path)``.

Conventions:
- image ``batch["blurred"]``: ``(B, 3, H, W)`` float32, linear RGB in [0, 1];
- camera motion fields ``batch["cmf_clean"]`` / ``batch["cmf_noisy"]``: ``(B, 2M, Hp/2, Wp/2)`` float32, channel
  pair m = (dx, dy) of segment m in full-resolution pixels (§3.1), where ``Hp = ⌈H/8⌉·8``, ``Wp = ⌈W/8⌉·8``;
- ``batch["alpha"]``: float or ``(B,)``: gyro features = α·intro_gyro(noisy) + (1−α)·intro_gyro(clean) (§4, §9.6).

Padding (§5.1, §9.9): the image is zero-padded bottom/right to a multiple of 8; the field must cover the padded
image at half resolution. **gyrobench extension**: a field of the *unpadded* half size (⌊H/2⌋ or ⌈H/2⌉ rows, …)
is padded bottom/right by edge replication to Hp/2 × Wp/2 (the official code would fail on it); any other size
raises :class:`~gyrobench.errors.ShapeError`. The global residual adds the padded input; the output is cropped.

Ablations (§7; the spec names them but does not define their architecture — these are gyrobench's definitions):
- (a) ``use_gyro=False``: the fields are replaced by zeros (same weights and keys; the gyro branch sees only
  its biases; the batch needs no field), ``uses_gyro`` is False;
- (c) ``refine="none"``: the gyro refinement blocks keep only their strided ``conv_down`` (needed to reach the
  bottleneck resolution); no channel selection, no ``conv_gyro``;
- (d) ``refine="gyro_only"``: the channel weights are computed from the pooled gyro feature alone
  (``conv_ca_weight`` takes c instead of 2c channels);
- (e) ``offsets="gyro"``: the deformable offsets and mask are predicted from the gyro feature only
  (``offset_conv``/``modulator_conv`` take 256 instead of 512 channels);
- (b) error-free gyro only and (f) no curriculum are training choices (``alpha`` fixed to 0 / 1), not options.
``M`` ∈ {2, 4, 8, 16} sets ``gyro_channel = 2M`` (the spec's M ablation); only M = 8 matches official weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn

from ..errors import RecipeError, ShapeError
from .blocks import SpatialAttention, batch_alpha, batch_image
from .dcn import DeformableConv2d
from .nafnet import LayerNorm2d, NAFBlock
from .padding import crop_to, pad_to_multiple, padded_size
from .registry import register

__all__ = [
    "GyroRefinementBlock",
    "GyroGuidedDeformBlock",
    "GyroDeblurringBlock",
    "GyroDeblurNet",
    "prepare_cmf",
]

REFINE_MODES = ("full", "none", "gyro_only")
OFFSET_MODES = ("joint", "gyro")


class GyroRefinementBlock(nn.Module):
    """GRB(c) (§5.3): w = Conv3×3_{2c→c}(GAP([F_blur; F_gyro])) (no activation), F' = ReLU(Conv3×3(F_gyro ⊙ w)),
    out = Conv3×3 stride 2 (c → 2c)(F').  ``(B,c,h,w) gyro, (B,c,h,w) blur -> (B,2c,h/2,w/2)``.

    ``mode="none"`` (ablation c) keeps only ``conv_down``; ``mode="gyro_only"`` (ablation d) pools F_gyro alone.
    """

    def __init__(self, c: int, mode: str = "full"):
        super().__init__()
        if mode not in REFINE_MODES:
            raise RecipeError(f"gyrodeblurnet: refine must be one of {REFINE_MODES}, got {mode!r}")
        self.mode = mode
        if mode != "none":
            cin = 2 * c if mode == "full" else c
            # index 0 = pooling, so the official key is conv_ca_weight.1.*; on a 1×1 map only the centre tap acts
            self.conv_ca_weight = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 3, padding=1))
            self.conv_gyro = nn.Conv2d(c, c, 3, padding=1)
            self.relu = nn.ReLU()
        self.conv_down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)

    def forward(self, gyro: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return self.conv_down(gyro)
        pooled_in = torch.cat([blur, gyro], dim=1) if self.mode == "full" else gyro
        w = self.conv_ca_weight(pooled_in)  # (B, c, 1, 1) channel selection, no sigmoid
        g = self.relu(self.conv_gyro(gyro * w))
        return self.conv_down(g)


class GyroGuidedDeformBlock(nn.Module):
    """Modulated deformable conv on the blur feature X with offsets/mask predicted from [X; G] (§5.3 GDB step 1–2).

    Official key prefix ``gyro_block.conv_deform.{offset_conv, modulator_conv, regular_conv}``; offsets and
    modulator zero-initialised, mask = 2·sigmoid, main weight without bias. ``offsets="gyro"`` (ablation e)
    predicts them from G only.
    """

    def __init__(self, c: int, offsets: str = "joint", backend: str = "auto", max_offset: float | None = None):
        super().__init__()
        if offsets not in OFFSET_MODES:
            raise RecipeError(f"gyrodeblurnet: offsets must be one of {OFFSET_MODES}, got {offsets!r}")
        self.offsets = offsets
        guide = 2 * c if offsets == "joint" else c
        self.conv_deform = DeformableConv2d(
            c, c, 3, padding=1, bias=False, guide_channels=guide, backend=backend, max_offset=max_offset
        )

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        guide = torch.cat([x, g], dim=1) if self.offsets == "joint" else g
        return self.conv_deform(x, guide)


class GyroDeblurringBlock(nn.Module):
    """GDB(c = 256) (§5.3): Y = DCN(X; [X; G]); Y_att = SpatialAttention(Y); Z = NAFBlock(Y_att);
    out = Conv3×3_{2c→c}([Y; Z]). No residual from X; G is passed through unchanged by the caller.
    ``(B,c,h,w), (B,c,h,w) -> (B,c,h,w)``."""

    def __init__(self, c: int = 256, offsets: str = "joint", backend: str = "auto", max_offset: float | None = None,
                 residual: bool = False):
        super().__init__()
        self.gyro_block = GyroGuidedDeformBlock(c, offsets, backend, max_offset)
        self.naf_block = NAFBlock(c)
        self.spatial_attn = SpatialAttention(7)
        self.conv = nn.Conv2d(2 * c, c, 3, padding=1)
        # gyrobench extension (GyroDeblurNet's gdb_residual): X + s ⊙ out, s zero-initialised per channel
        self.res_scale = nn.Parameter(torch.zeros(1, c, 1, 1)) if residual else None

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        y = self.gyro_block(x, g)
        z = self.naf_block(self.spatial_attn(y))
        out = self.conv(torch.cat([y, z], dim=1))
        return out if self.res_scale is None else x + self.res_scale * out


def prepare_cmf(
    cmf: torch.Tensor, image_hw: tuple[int, int], channels: int, name: str = "cmf"
) -> torch.Tensor:
    """Check a field against the image size and pad it to the padded half size (module docstring, §9.9).

    Accepts ``(B, channels, Hp/2, Wp/2)`` unchanged, or a field whose height is ⌊H/2⌋ or ⌈H/2⌉ (same for the
    width), edge-replicated on the bottom/right to ``Hp/2 × Wp/2``. Raises ShapeError otherwise.
    """
    h, w = image_hw
    hp, wp = padded_size(h, w, 8)
    want = (hp // 2, wp // 2)
    if cmf.dim() != 4 or cmf.shape[1] != channels:
        raise ShapeError(
            f"batch['{name}'] must be (B, {channels}, {want[0]}, {want[1]}) for a {h}x{w} image "
            f"(2M = {channels} channels), got {tuple(cmf.shape)}"
        )
    ch, cw = cmf.shape[-2:]
    if (ch, cw) == want:
        return cmf
    ok_h = ch in (h // 2, -(-h // 2)) and ch <= want[0]
    ok_w = cw in (w // 2, -(-w // 2)) and cw <= want[1]
    if not (ok_h and ok_w):
        raise ShapeError(
            f"batch['{name}'] has spatial size {ch}x{cw}; a {h}x{w} image needs the field of its "
            f"padded size {hp}x{wp} at half resolution, {want[0]}x{want[1]} (or the unpadded half "
            f"size, which is edge-padded)"
        )
    return torch.nn.functional.pad(cmf, (0, want[1] - cw, 0, want[0] - ch), mode="replicate")


@register(
    "gyrodeblurnet",
    uses_gyro=True,
    citation="H. Yang, J. Rim, S.-H. Baek, S. Cho, Gyro-based Neural Single Image Deblurring, CVPR 2025 "
    "(arXiv 2404.00916)",
    description="GyroDeblurNet: NAFNet-32 U-Net with gyro refinement and gyro-guided deformable blocks",
)
class GyroDeblurNet(nn.Module):
    """GyroDeblurNet, official config: width 32, encoders [2,2,2], 16 middle NAFBlocks in 4 groups with 3 GDBs,
    GRBs at encoder levels 1 and 2, decoders [1,1,1], global residual (§5.1–§5.2 table).

    ``forward(batch) -> (B, 3, H, W)``. Options: ``M`` (2|4|8|16), ``use_gyro``, ``refine``, ``offsets``,
    ``dcn_backend`` ("auto"|"torch"|"torchvision"); see the module docstring.

    Size options (gyrobench extension for CPU-scale studies; the defaults are the official configuration, 570
    keys, 16,311,296 parameters): ``width`` (level-0 channels, 32; the gyro branch runs at twice the width,
    64 → 128 → 256 officially, so every GRB output matches the image feature of the next level),
    ``enc_blk_nums`` (NAFBlocks per encoder level, three levels, (2, 2, 2)), ``middle_blk_num`` (16),
    ``dec_blk_nums`` ((1, 1, 1)), ``gdb_num`` (gyro-deblurring blocks, 3): the middle NAFBlocks are split into
    ``gdb_num + 1`` groups (sizes as even as possible, larger groups first) with one GDB after each group but the
    last. ``cmf_scale`` (1.0 = the official function) multiplies the fields (pixels) before ``intro_gyro``: the
    displacements are tens of pixels next to images in [0, 1], and a scale of ~0.05 puts them on the image's range.

    How the gyro reaches the network (gyrobench extensions for issue 9's diagnosis, off by default):
    ``offset_init`` (std of a normal init of the GDBs' offset/modulator conv weights; 0 = the official zero
    init, under which the output does not depend on the gyro at initialisation and the whole gyro branch gets
    exactly zero gradient until those weights move); ``gyro_concat`` (also feed the field × ``cmf_scale``,
    nearest-upsampled to full resolution, as 2M extra input channels of ``intro``, as DeepGyro does);
    ``wiener_input`` (a gyro prior in the manner of deep Wiener deconvolution, Dong, Roth, Schiele, NeurIPS 2020:
    the classical per-tile Wiener deconvolution of the input with the α-mixed field,
    :func:`gyrobench.models.classical.deconvolve` with ``wiener_lam`` and ``wiener_tile``, computed without
    gradient, is fed as 3 extra input channels of ``intro`` and is the base of the global residual instead of the
    blurred input, so the network starts from the gyro-kernel estimate and learns what the Wiener filter gets wrong:
    ringing, amplified noise, errors of the noisy field). ``wiener_gate`` (with ``wiener_input``): the base of the
    global residual becomes a per-pixel blend ``x + g·(wiener − x)`` of the blurred input ``x`` and the Wiener
    estimate, with the trust map ``g = sigmoid(conv3x3(last decoder features))`` (one more conv, ``wiener_gate``;
    initialised to trust the estimate, ``g`` ≈ 0.95), so a model that learns to spot a field that disagrees with
    the image (train it with ``gyro_shuffle``) can fall back to the blind path at the cost of one channel.
    ``wiener_residual`` (with ``wiener_input``): also feed the filter's re-blur residual ``x − K ⊛ wiener``
    (:func:`gyrobench.models.classical.deconvolve` with ``residual=True``) as 3 more ``intro`` channels: near noise
    where the field matches the image's blur, image detail where the field claims blur that the image does not
    have, so a wrong field becomes visible to the network. ``wiener_check`` (with ``wiener_input``): the Wiener
    estimate keeps a tile's deconvolution only where the field's kernel explains the tile better than no blur
    (:func:`gyrobench.models.classical.deconvolve` with ``check=True``, a marginal-likelihood test) and passes the
    blurred tile through elsewhere, so a field that disagrees with the image falls back to the blind path without
    any training.
    Not in the paper; docs/cpu-study.md measures them.

    Keeping the gyro path alive (gyrobench extensions for issue 22, off by default; docs/models.md, "Deformable-block
    health"): ``gyro_norm`` puts a LayerNorm2d (NAFNet's) on the gyro feature after ``intro_gyro`` and after each
    GRB (new keys ``gyro_norms.{0,1,2}.*``), so the feature that guides the offsets stays O(1) however the branch's
    weights grow (the GRB's channel weights are a product of two linear maps of the features, with nothing to bound
    them); ``max_offset`` bounds the GDB offsets to ``max_offset · tanh(·/max_offset)`` bottleneck pixels;
    ``gdb_residual`` makes each GDB ``X + s ⊙ GDB(X, G)`` with a per-channel scale ``s`` initialised to 0 (new keys
    ``gyro_deblurring_blks.i.res_scale``; NAFNet's layer scale), so a GDB starts as the identity and its output
    enters the bottleneck only as far as it helps: the official GDB replaces X by its output, and a run whose
    first steps find that output harmful kills it (mask → 0) and with it the whole bottleneck.
    """

    width = 32
    enc_blk_nums = (2, 2, 2)
    middle_blk_num = 16
    dec_blk_nums = (1, 1, 1)
    gdb_num = 3

    def __init__(
        self,
        M: int = 8,
        use_gyro: bool = True,
        refine: str = "full",
        offsets: str = "joint",
        dcn_backend: str = "auto",
        width: int = 32,
        enc_blk_nums=(2, 2, 2),
        middle_blk_num: int = 16,
        dec_blk_nums=(1, 1, 1),
        gdb_num: int = 3,
        cmf_scale: float = 1.0,
        offset_init: float = 0.0,
        gyro_concat: bool = False,
        wiener_input: bool = False,
        wiener_lam: float = 0.06,
        wiener_tile: int = 128,
        wiener_gate: bool = False,
        wiener_residual: bool = False,
        wiener_check: bool = False,
        gyro_norm: bool = False,
        max_offset: float | None = None,
        gdb_residual: bool = False,
    ):
        super().__init__()
        if M not in (2, 4, 8, 16):
            raise RecipeError(f"gyrodeblurnet: M must be 2, 4, 8 or 16 (segments per field), got {M!r}")
        enc_blk_nums, dec_blk_nums = tuple(int(n) for n in enc_blk_nums), tuple(int(n) for n in dec_blk_nums)
        if len(enc_blk_nums) != 3 or len(dec_blk_nums) != 3 or min(enc_blk_nums + dec_blk_nums) < 0:
            raise RecipeError("gyrodeblurnet: enc_blk_nums and dec_blk_nums must list three block counts >= 0 "
                              f"(three levels: the field enters at 1/2 and reaches 1/8), got {enc_blk_nums}, "
                              f"{dec_blk_nums}")
        if int(width) < 1 or int(gdb_num) < 0 or int(middle_blk_num) < int(gdb_num) + 1:
            raise RecipeError(f"gyrodeblurnet: need width >= 1, gdb_num >= 0 and middle_blk_num >= gdb_num + 1 "
                              f"(one NAFBlock group per GDB plus the last), got width={width}, "
                              f"middle_blk_num={middle_blk_num}, gdb_num={gdb_num}")
        if float(offset_init) < 0:
            raise RecipeError(f"gyrodeblurnet: offset_init must be >= 0 (std of the offset/modulator weights), got "
                              f"{offset_init!r}")
        if wiener_input and not use_gyro:
            raise RecipeError("gyrodeblurnet: wiener_input needs the gyro (use_gyro: true); the no-gyro ablation "
                              "of a wiener_input model is the same options with use_gyro: false and wiener_input "
                              "off")
        if (wiener_gate or wiener_residual or wiener_check) and not wiener_input:
            raise RecipeError("gyrodeblurnet: wiener_gate, wiener_residual and wiener_check act on the Wiener "
                              "estimate; they need wiener_input: true")
        if not float(wiener_lam) > 0 or int(wiener_tile) < 16:
            raise RecipeError(f"gyrodeblurnet: need wiener_lam > 0 and wiener_tile >= 16, got {wiener_lam!r}, "
                              f"{wiener_tile!r}")
        if max_offset is not None and not float(max_offset) > 0:
            raise RecipeError(f"gyrodeblurnet: max_offset must be a positive number of bottleneck pixels (or null: "
                              f"the official unbounded offsets), got {max_offset!r}")
        if not float(cmf_scale) > 0:
            raise RecipeError(f"gyrodeblurnet: cmf_scale must be > 0, got {cmf_scale!r}")
        self.M = int(M)
        self.gyro_channel = 2 * self.M
        self.uses_gyro = bool(use_gyro)
        self.width, self.enc_blk_nums, self.dec_blk_nums = int(width), enc_blk_nums, dec_blk_nums
        self.middle_blk_num, self.gdb_num, self.cmf_scale = int(middle_blk_num), int(gdb_num), float(cmf_scale)
        self.options = dict(M=M, use_gyro=use_gyro, refine=refine, offsets=offsets)
        width = self.width
        gw = 2 * width  # gyro branch width at H/2 (§5.1: 64 → 128 → 256 at the official width 32)

        # definition order reproduces the official state_dict key order
        self.concat_field = bool(gyro_concat)  # the channels exist (zeros for the no-gyro ablation)
        self.wiener_input = bool(wiener_input)
        self.wiener_kwargs = dict(method="wiener", lam=float(wiener_lam), tile=int(wiener_tile),
                                  check=bool(wiener_check))
        self.wiener_residual = bool(wiener_residual)
        extra = (self.gyro_channel if gyro_concat else 0) + (3 if self.wiener_input else 0)
        extra += 3 if self.wiener_residual else 0
        self.intro = nn.Conv2d(3 + extra, width, 3, padding=1)
        self.intro_gyro = nn.Conv2d(self.gyro_channel, gw, 3, padding=1)
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.gyro_refine_blks = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.middle_blks = nn.ModuleList()
        self.gyro_deblurring_blks = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()

        c = width
        for level, n in enumerate(self.enc_blk_nums):
            self.encoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
            # level 0 has no refinement (parameter-free identity at index 0, §5.2)
            self.gyro_refine_blks.append(nn.Identity() if level == 0 else GyroRefinementBlock(c, refine))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        groups = self.gdb_num + 1
        sizes = [self.middle_blk_num // groups + (i < self.middle_blk_num % groups) for i in range(groups)]
        for i, per_group in enumerate(sizes):
            self.middle_blks.append(nn.Sequential(*[NAFBlock(c) for _ in range(per_group)]))
            # GDBs after groups 1..gdb_num (1–3 officially); the last slot is a parameter-free identity
            self.gyro_deblurring_blks.append(
                GyroDeblurringBlock(c, offsets, dcn_backend, max_offset, gdb_residual) if i < groups - 1
                else nn.Identity()
            )
        for n in self.dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
        self.padder_size = 2 ** len(self.enc_blk_nums)  # 8
        if offset_init:
            for gdb in self.gyro_deblurring_blks:
                if isinstance(gdb, GyroDeblurringBlock):
                    dcn = gdb.gyro_block.conv_deform
                    nn.init.normal_(dcn.offset_conv.weight, std=float(offset_init))
                    nn.init.normal_(dcn.modulator_conv.weight, std=float(offset_init))
        # after every official key (key order): the trust map of the Wiener estimate, g = sigmoid(3) ≈ 0.95 at init
        self.wiener_gate = nn.Conv2d(width, 1, 3, padding=1) if wiener_gate else None
        if self.wiener_gate is not None:
            nn.init.zeros_(self.wiener_gate.weight)
            nn.init.constant_(self.wiener_gate.bias, 3.0)
        # after every official key: a LayerNorm2d on the gyro feature after intro_gyro and after each GRB
        self.gyro_norms = nn.ModuleList([LayerNorm2d(gw * 2 ** level) for level in range(len(self.enc_blk_nums))]
                                        ) if gyro_norm else None

    def _fields(self, batch, n: int, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's (clean, noisy) fields checked and padded to Hp/2 × Wp/2 (either stands in for a missing
        other); pixels, unscaled."""
        get = batch.get if isinstance(batch, Mapping) else (lambda k, d=None: d)
        clean, noisy = get("cmf_clean"), get("cmf_noisy")
        if clean is None and noisy is None:
            raise ShapeError(
                "gyrodeblurnet needs batch['cmf_clean'] and/or batch['cmf_noisy'] "
                f"(B, {self.gyro_channel}, H/2, W/2); got neither"
            )
        clean = noisy if clean is None else clean
        noisy = clean if noisy is None else noisy
        same = noisy is clean
        clean = prepare_cmf(clean, hw, self.gyro_channel, "cmf_clean")
        noisy = clean if same else prepare_cmf(noisy, hw, self.gyro_channel, "cmf_noisy")
        if clean.shape[0] != n or noisy.shape[0] != n:
            raise ShapeError(
                f"gyrodeblurnet: batch has {n} images but fields of batch size "
                f"{clean.shape[0]} (clean) / {noisy.shape[0]} (noisy)"
            )
        return clean, noisy

    def _gyro_features(self, batch, n: int, hw: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """intro_gyro features at Hp/2 × Wp/2, α-mixed (§4): α·intro(noisy) + (1−α)·intro(clean)."""
        if not self.uses_gyro:  # ablation (a): no gyro information reaches the network; fields not needed
            hp, wp = padded_size(*hw, self.padder_size)
            zeros = like.new_zeros(n, self.gyro_channel, hp // 2, wp // 2)
            return self.intro_gyro(zeros)
        clean, noisy = self._fields(batch, n, hw)
        if self.cmf_scale != 1.0:
            same = noisy is clean
            clean = clean * self.cmf_scale
            noisy = clean if same else noisy * self.cmf_scale
        alpha = batch_alpha(batch, n, like)
        if (isinstance(alpha, float) and alpha == 1.0) or noisy is clean:
            return self.intro_gyro(noisy)
        if isinstance(alpha, float) and alpha == 0.0:
            return self.intro_gyro(clean)
        return alpha * self.intro_gyro(noisy) + (1.0 - alpha) * self.intro_gyro(clean)

    def _mixed_field(self, batch, n: int, hw: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """The α-mixed field ``α·noisy + (1−α)·clean`` (B, 2M, Hp/2, Wp/2), pixels, unscaled."""
        clean, noisy = self._fields(batch, n, hw)
        alpha = batch_alpha(batch, n, like)
        if isinstance(alpha, float):
            return noisy if alpha == 1.0 else alpha * noisy + (1.0 - alpha) * clean
        return alpha * noisy + (1.0 - alpha) * clean

    def _full_res_field(self, batch, n: int, hw: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """``gyro_concat``: the α-mixed field × ``cmf_scale`` at full (padded) resolution (nearest ×2), zeros
        for the no-gyro ablation; concatenated to the image before ``intro``."""
        hp, wp = like.shape[-2:]
        if not self.uses_gyro:
            return like.new_zeros(n, self.gyro_channel, hp, wp)
        field = self._mixed_field(batch, n, hw, like)
        up = torch.nn.functional.interpolate(field * self.cmf_scale, scale_factor=2, mode="nearest")
        return up[..., :hp, :wp].to(like.dtype)

    def _wiener(self, batch, inp: torch.Tensor) -> list[torch.Tensor]:
        """``wiener_input``: ``[estimate]`` or, with ``wiener_residual``, ``[estimate, re-blur residual]``; the
        classical per-tile Wiener filter with the α-mixed field, each (B, 3, H, W), linear, no gradient."""
        from .classical import deconvolve  # local: classical imports the gyro-input helpers

        n, _, h, w = inp.shape
        if inp.device.type == "meta":  # MAC counting (models.complexity): the FFT filter has no conv MACs
            return [inp, inp] if self.wiener_residual else [inp]
        with torch.no_grad():
            field = self._mixed_field(batch, n, (h, w), inp)
            out = deconvolve(inp.detach(), field.detach(), residual=self.wiener_residual, **self.wiener_kwargs)
            return list(out) if self.wiener_residual else [out]

    def forward(self, batch) -> torch.Tensor:
        inp = batch_image(batch)
        n, _, h, w = inp.shape
        x0, size = pad_to_multiple(inp, self.padder_size)  # zero pad to a multiple of 8 (§5.1)
        gyro = self._gyro_features(batch, n, (h, w), inp)  # (B, 64, Hp/2, Wp/2)
        if self.gyro_norms is not None:
            gyro = self.gyro_norms[0](gyro)

        parts = [x0]
        if self.concat_field:
            parts.append(self._full_res_field(batch, n, (h, w), x0))
        base = x0
        if self.wiener_input:
            maps = [pad_to_multiple(m, self.padder_size)[0] for m in self._wiener(batch, inp)]
            base = maps[0]
            parts.extend(maps)
        x = self.intro(torch.cat(parts, 1) if len(parts) > 1 else x0)
        skips = []
        for level, (encoder, refine, down) in enumerate(
            zip(self.encoders, self.gyro_refine_blks, self.downs)
        ):
            x = encoder(x)
            skips.append(x)
            if level > 0:  # GRB at levels 1, 2: gyro 64 @H/2 → 128 @H/4 → 256 @H/8
                gyro = refine(gyro, x)
                if self.gyro_norms is not None:
                    gyro = self.gyro_norms[level](gyro)
            x = down(x)
        for group, gdb in zip(self.middle_blks, self.gyro_deblurring_blks):
            x = group(x)
            if isinstance(gdb, GyroDeblurringBlock):
                x = gdb(x, gyro)  # the gyro feature is passed unchanged to every GDB
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        if self.wiener_gate is not None:  # per-pixel trust in the Wiener estimate
            base = x0 + torch.sigmoid(self.wiener_gate(x)) * (base - x0)
        x = self.ending(x) + base  # global residual on the padded input (or on the Wiener estimate / the blend)
        return crop_to(x, size)
