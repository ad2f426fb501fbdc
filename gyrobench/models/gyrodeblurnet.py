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
from .blocks import SpatialAttention, alpha_mix, batch_alpha, batch_image
from .dcn import DeformableConv2d
from .nafnet import LayerNorm2d, NAFBlock
from .padding import crop_to, pad_to_multiple, padded_size
from .priors import PRIOR_KINDS, PriorConfig, build_prior, legacy_prior, parse_prior
from .registry import register

__all__ = [
    "GyroRefinementBlock",
    "GyroGuidedDeformBlock",
    "GyroDeblurringBlock",
    "GyroDeblurNet",
    "prepare_cmf",
    "trajectory_offsets",
    "upgrade_options",
]

REFINE_MODES = ("full", "none", "gyro_only")
OFFSET_MODES = ("joint", "gyro")
OFFSET_BASES = (None, "trajectory")


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

    def forward(self, x: torch.Tensor, g: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        guide = torch.cat([x, g], dim=1) if self.offsets == "joint" else g
        return self.conv_deform(x, guide, base)


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

    def forward(self, x: torch.Tensor, g: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        y = self.gyro_block(x, g, base)
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


def trajectory_offsets(cmf: torch.Tensor, down: int, kernel: int = 3) -> torch.Tensor:
    """Base offsets that put the taps of a ``kernel``×``kernel`` deformable conv on the blur trajectory (gyrobench
    extension ``offset_base: trajectory``, issue 22, docs/gyro-path.md).

    ``cmf``: ``(B, 2M, h, w)`` field, channel pair m = p_{m+1} − p_m as (dx, dy) in full-resolution pixels, the
    trajectory of the scene point that sits at the pixel at mid-exposure (§3.1); ``down``: the factor from the
    field's grid to the conv's feature map (4 for the bottleneck: the field is at 1/2, the GDB at 1/8).

    The M + 1 trajectory points q_j = p_j − p_{M/2} (j = 0…M, so q_{M/2} = 0) are resampled linearly in time to
    K = kernel² points, t_k = k/(K−1) of the exposure (M = 8 and K = 9: exactly the field's points), and
    converted to the conv's pixels (÷ 2·down). Tap k (row-major) then samples at x + q(t_k): the light of the scene
    point at x is spread along that path, so the conv's K taps gather the blurred copies of one point in time
    order, whatever the direction of the blur. Returns ``(B, 2K, h/down, w/down)`` as (dy, dx) per tap, relative
    to the regular grid (the grid's −1…1 tap positions subtracted), in the feature map's pixels.
    """
    b, c, h, w = cmf.shape
    m = c // 2
    if c != 2 * m or m < 2 or m % 2:
        raise ShapeError(f"trajectory_offsets: the field needs 2M channels with M even, got {c}")
    if h % down or w % down:
        raise ShapeError(f"trajectory_offsets: field grid {h}x{w} is not a multiple of {down}")
    seg = torch.nn.functional.avg_pool2d(cmf, down).reshape(b, m, 2, h // down, w // down)
    points = torch.cat([seg.new_zeros(b, 1, 2, h // down, w // down), seg.cumsum(1)], dim=1)  # p_j − p_0
    points = points - points[:, m // 2: m // 2 + 1]  # anchored at mid-exposure
    k = kernel * kernel
    u = torch.linspace(0.0, float(m), k, dtype=cmf.dtype, device=cmf.device)
    j0 = u.floor().clamp(max=m - 1).long()
    frac = (u - j0).view(1, k, 1, 1, 1)
    q = points[:, j0] * (1 - frac) + points[:, j0 + 1] * frac  # (B, K, 2 = (dx, dy), h', w')
    q = q.flip(2) / (2.0 * down)  # (dy, dx) in feature pixels
    grid = torch.arange(kernel, dtype=cmf.dtype, device=cmf.device) - (kernel - 1) / 2
    taps = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1).reshape(1, k, 2, 1, 1)
    return (q - taps).reshape(b, 2 * k, h // down, w // down)


def _legacy_keys(state_dict, prefix, *args) -> None:
    """Read the gate of the old flat Wiener options (``wiener_gate.*``) as ``prior.gate.*``."""
    for name in ("weight", "bias"):
        old = f"{prefix}wiener_gate.{name}"
        if old in state_dict:
            state_dict[f"{prefix}prior.gate.{name}"] = state_dict.pop(old)


#: options of the 2026-12 research code that moved to the registered diagnostic variant
DIAGNOSTIC_OPTIONS = ("cmf_scale", "offset_init", "gyro_concat")


def upgrade_options(options: dict) -> dict:
    """GyroDeblurNet's options in today's spelling: the flat Wiener options become ``prior`` (same module, same
    weights); the diagnosis options are refused with the model that has them."""
    moved = [k for k in DIAGNOSTIC_OPTIONS if k in options]
    if moved:
        raise RecipeError(f"gyrodeblurnet: option(s) {', '.join(moved)} belong to the diagnostic variant; use model "
                          f"'gyrodeblurnet_diagnostic' (docs/models.md, 'Diagnostic variant')")
    return legacy_prior(options, model="gyrodeblurnet")


@register(
    "gyrodeblurnet",
    uses_gyro=True,
    citation="H. Yang, J. Rim, S.-H. Baek, S. Cho, Gyro-based Neural Single Image Deblurring, CVPR 2025 "
    "(arXiv 2404.00916)",
    description="GyroDeblurNet: NAFNet-32 U-Net with gyro refinement and gyro-guided deformable blocks",
    legacy_options=upgrade_options,
)
class GyroDeblurNet(nn.Module):
    """GyroDeblurNet, official config: width 32, encoders [2,2,2], 16 middle NAFBlocks in 4 groups with 3 GDBs,
    GRBs at encoder levels 1 and 2, decoders [1,1,1], global residual (§5.1–§5.2 table).

    ``forward(batch) -> (B, 3, H, W)``: ``batch["blurred"]`` and the fields (module docstring); the fields are read,
    checked and α-mixed once per forward.

    The paper's options (defaults = the paper's network; §5, §7):

    - ``M``: segments per field, 2 | 4 | 8 | 16 (8); the field has ``2M`` channels. Only 8 loads official weights.
    - ``use_gyro``: False is ablation (a), the fields replaced by zeros (True).
    - ``refine``: ``"full"`` | ``"none"`` (ablation c) | ``"gyro_only"`` (ablation d) (``"full"``).
    - ``offsets``: ``"joint"`` (offsets from ``[X; G]``) | ``"gyro"`` (ablation e) (``"joint"``).

    Size options (gyrobench's, for CPU-scale studies; the defaults are the official 570 keys, 16,311,296
    parameters):

    - ``width``: level-0 channels (32); the gyro branch runs at twice the width, 64 → 128 → 256 officially, so every
      GRB output matches the image feature of the next level.
    - ``enc_blk_nums`` / ``dec_blk_nums``: NAFBlocks per encoder / decoder level, three levels ((2, 2, 2) /
      (1, 1, 1)).
    - ``middle_blk_num``: middle NAFBlocks (16), split into ``gdb_num + 1`` groups (sizes as even as possible,
      larger first) with one GDB after each group but the last; ``gdb_num``: gyro-deblurring blocks (3).

    Keeping the gyro path alive (gyrobench's, issue 22, all off = the official function and keys; docs/gyro-path.md):

    - ``gyro_norm``: a LayerNorm2d (NAFNet's) on the gyro feature after ``intro_gyro`` and after each GRB (keys
      ``gyro_norms.{0,1,2}.*``), so the feature that guides the offsets stays O(1) however the branch's weights grow.
    - ``max_offset``: bounds the GDB offsets to ``max_offset · tanh(·/max_offset)`` bottleneck pixels (None).
    - ``gdb_residual``: each GDB becomes ``X + s ⊙ GDB(X, G)`` with a per-channel ``s`` initialised to 0 (keys
      ``gyro_deblurring_blks.i.res_scale``; NAFNet's layer scale): the official GDB replaces X, and a run whose first
      steps find its output harmful kills it (mask → 0) and with it the bottleneck.
    - ``offset_base``: ``None`` (official: offsets around the regular 3×3 grid) or ``"trajectory"``: the predicted
      offsets become a residual around the field's blur trajectory, tap k on the trajectory point at time k/8 of the
      exposure (:func:`trajectory_offsets`; no new keys; needs ``use_gyro``). The field then reaches the sampling
      positions directly, as the flow does in BasicVSR++'s flow-guided deformable alignment.

    A gyro prior (gyrobench's, not in the paper; :mod:`gyrobench.models.priors`):

    - ``prior``: ``None`` (the paper) or ``{kind: wiener, lam, tile, check, residual, gate}``: the prior's maps are
      extra input channels of ``intro`` and its estimate is the base of the global residual (needs ``use_gyro``).
      The old flat spelling (``wiener_input: true``, ``wiener_lam``, ...) of the checkpoints of 2026-12-03 to 12-07
      is read as this option (:func:`upgrade_options`).

    Runtime: ``dcn_backend``: ``"auto"`` | ``"torch"`` | ``"torchvision"`` (:mod:`gyrobench.models.dcn`).
    """

    def __init__(
        self,
        M: int = 8,
        use_gyro: bool = True,
        refine: str = "full",
        offsets: str = "joint",
        width: int = 32,
        enc_blk_nums: tuple[int, ...] = (2, 2, 2),
        middle_blk_num: int = 16,
        dec_blk_nums: tuple[int, ...] = (1, 1, 1),
        gdb_num: int = 3,
        gyro_norm: bool = False,
        max_offset: float | None = None,
        gdb_residual: bool = False,
        offset_base: str | None = None,
        prior: PriorConfig | None = None,
        dcn_backend: str = "auto",
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
        if max_offset is not None and not float(max_offset) > 0:
            raise RecipeError(f"gyrodeblurnet: max_offset must be a positive number of bottleneck pixels (or null: "
                              f"the official unbounded offsets), got {max_offset!r}")
        if offset_base not in OFFSET_BASES:
            raise RecipeError(f"gyrodeblurnet: offset_base must be null (the official regular grid) or 'trajectory', "
                              f"got {offset_base!r}")
        if offset_base is not None and not use_gyro:
            raise RecipeError("gyrodeblurnet: offset_base 'trajectory' needs the gyro (use_gyro: true); the no-gyro "
                              "ablation keeps the regular grid (offset_base: null)")
        self.offset_base = offset_base
        prior_cfg = parse_prior(prior, source="gyrodeblurnet", prefix="prior")
        if prior_cfg is not None and not use_gyro:
            raise RecipeError("gyrodeblurnet: a prior needs the gyro (use_gyro: true); the no-gyro ablation of a "
                              "model with a prior is the same options with use_gyro: false and no prior")
        self.M = int(M)
        self.gyro_channel = 2 * self.M
        self.uses_gyro = bool(use_gyro)
        self.width, self.enc_blk_nums, self.dec_blk_nums = int(width), enc_blk_nums, dec_blk_nums
        self.middle_blk_num, self.gdb_num = int(middle_blk_num), int(gdb_num)
        width = self.width
        gw = 2 * width  # gyro branch width at H/2 (§5.1: 64 → 128 → 256 at the official width 32)

        # definition order reproduces the official state_dict key order
        extra = (PRIOR_KINDS[prior_cfg.kind][1].input_channels(prior_cfg) if prior_cfg else 0) + \
            self._extra_intro_channels()
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
        self._init_extensions()
        # after every official key (key order): the prior (parameters only with a gate) and the gyro-feature norms
        self.prior = build_prior(prior_cfg, width)
        self.gyro_norms = nn.ModuleList([LayerNorm2d(gw * 2 ** level) for level in range(len(self.enc_blk_nums))]
                                        ) if gyro_norm else None
        self._register_load_state_dict_pre_hook(_legacy_keys)

    # -- hooks of the registered diagnostic variant (gyrodeblurnet_diagnostic.py); the paper's network has none
    def _extra_intro_channels(self) -> int:
        """Input channels of ``intro`` beyond the image and the prior's maps."""
        return 0

    def _init_extensions(self) -> None:
        """Re-initialise weights after the official modules are built (before the prior's and norms')."""

    def _fields(self, batch, n: int, hw: tuple[int, int], like: torch.Tensor):
        """``(clean, noisy, alpha)``: the batch's fields checked and padded to Hp/2 × Wp/2 (either stands in for a
        missing other; pixels) and α (float or ``(B, 1, 1, 1)``); None for the no-gyro ablation, which needs none."""
        if not self.uses_gyro:
            return None
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
        return clean, noisy, batch_alpha(batch, n, like)

    def _gyro_features(self, fields, x0: torch.Tensor) -> torch.Tensor:
        """intro_gyro features at Hp/2 × Wp/2, α-mixed (§4): α·intro(noisy) + (1−α)·intro(clean); for the no-gyro
        ablation (a) the features of a zero field (the gyro branch sees only its biases)."""
        if fields is None:
            n, _, hp, wp = x0.shape
            return self.intro_gyro(x0.new_zeros(n, self.gyro_channel, hp // 2, wp // 2))
        clean, noisy, alpha = fields
        return alpha_mix(alpha, noisy, clean, self.intro_gyro)

    def _intro_inputs(self, inp: torch.Tensor, x0: torch.Tensor, fields) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The inputs of ``intro`` (padded image, then the prior's padded maps) and the global residual's base."""
        if self.prior is None:
            return [x0], x0
        clean, noisy, alpha = fields
        maps = [pad_to_multiple(m, self.padder_size)[0] for m in self.prior.maps(inp, alpha_mix(alpha, noisy, clean))]
        return [x0, *maps], maps[0]

    def _offset_base(self, fields) -> torch.Tensor | None:
        """The GDBs' base offsets (``offset_base``): the α-mixed field's trajectory at the bottleneck, or None."""
        if self.offset_base is None:
            return None
        clean, noisy, alpha = fields
        return trajectory_offsets(alpha_mix(alpha, noisy, clean), self.padder_size // 2)

    def forward(self, batch) -> torch.Tensor:
        inp = batch_image(batch)
        n, _, h, w = inp.shape
        x0, size = pad_to_multiple(inp, self.padder_size)  # zero pad to a multiple of 8 (§5.1)
        fields = self._fields(batch, n, (h, w), inp)
        gyro = self._gyro_features(fields, x0)  # (B, 2·width, Hp/2, Wp/2)
        if self.gyro_norms is not None:
            gyro = self.gyro_norms[0](gyro)
        parts, base = self._intro_inputs(inp, x0, fields)
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
        traj = self._offset_base(fields)
        for group, gdb in zip(self.middle_blks, self.gyro_deblurring_blks):
            x = group(x)
            if isinstance(gdb, GyroDeblurringBlock):
                x = gdb(x, gyro, traj)  # the gyro feature is passed unchanged to every GDB
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        if self.prior is not None:
            base = self.prior.base(x0, base, x)
        x = self.ending(x) + base  # global residual on the padded input (or on the prior's estimate)
        return crop_to(x, size)

