"""Modulated deformable convolution (DCN v2) in pure PyTorch, with ``torchvision.ops.deform_conv2d`` semantics.

Spec: gyrodeblurnet.md §5.3 (GyroDeblurringBlock step 2) and §9.8; Zhu et al., "Deformable ConvNets v2", CVPR 2019.

Definition (per batch b, output pixel (i, j), kernel tap k = (a, c) in row-major order, K = kh·kw taps)::

    p_k  = (i·s − pad + a·dil + Δy_k(i, j),  j·s − pad + c·dil + Δx_k(i, j))        # (row, col), input pixels
    y[o, i, j] = Σ_ci Σ_k  W[o, ci, a, c] · m_k(i, j) · bilinear(x[ci], p_k)  (+ bias[o])

Conventions (identical to torchvision):
- ``offset``: ``(B, 2·G·K, Ho, Wo)``; for offset group g and tap k, channel ``2(g·K + k)`` is Δy (rows, down) and
  channel ``2(g·K + k) + 1`` is Δx (columns, right), in input pixels. Input channels are split into G contiguous
  offset groups.
- ``mask``: ``(B, G·K, Ho, Wo)``, channel ``g·K + k`` (``None`` = all ones, i.e. DCN v1).
- ``weight``: ``(Cout, Cin / groups, kh, kw)``; ``groups`` is inferred as ``Cin // weight.shape[1]``.
- Bilinear sampling with **zeros outside** the input (each of the 4 corner pixels contributes only if it lies
  inside the image), so a point at or beyond one pixel outside the border samples 0.

Implementation: one ``grid_sample`` call gathers all K taps at once into columns ``(B, Cin, K, Ho·Wo)`` (no Python
loop over pixels or taps), the mask multiplies them, and a single batched matmul applies the weight. Gradients
(input, offset, mask, weight, bias) come from autograd. Meta tensors return an empty result of the right shape,
so :mod:`gyrobench.models.complexity` can count MACs without computing.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ShapeError
from ..log import get_logger

__all__ = [
    "modulated_deform_conv2d",
    "deform_conv2d_pure",
    "torchvision_available",
    "DeformableConv2d",
    "dcn_backends",
    "DeformConvModule",
]

log = get_logger("models.dcn")

def _pair(v) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ShapeError(f"deform_conv2d: expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _check_shapes(input, offset, weight, mask, stride, padding, dilation):
    if input.dim() != 4:
        raise ShapeError(f"deform_conv2d: input must be (B, C, H, W), got {tuple(input.shape)}")
    B, C, H, W = input.shape
    if weight.dim() != 4:
        raise ShapeError(
            f"deform_conv2d: weight must be (Cout, Cin/groups, kh, kw), got {tuple(weight.shape)}"
        )
    cout, cin_g, kh, kw = weight.shape
    if C % cin_g != 0:
        raise ShapeError(f"deform_conv2d: input has {C} channels, not a multiple of weight.shape[1]={cin_g}")
    groups = C // cin_g
    if cout % groups != 0:
        raise ShapeError(f"deform_conv2d: Cout={cout} not divisible by groups={groups}")
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise ShapeError(
            f"deform_conv2d: input {H}x{W} too small for a {kh}x{kw} kernel with padding {padding}"
        )
    K = kh * kw
    if offset.dim() != 4 or offset.shape[0] != B or offset.shape[2:] != (ho, wo) or offset.shape[1] % (2 * K):
        raise ShapeError(
            f"deform_conv2d: offset must be (B={B}, 2*G*{K}, {ho}, {wo}), got {tuple(offset.shape)}"
        )
    G = offset.shape[1] // (2 * K)
    if C % G != 0:
        raise ShapeError(f"deform_conv2d: {C} input channels not divisible by {G} offset groups")
    if mask is not None and tuple(mask.shape) != (B, G * K, ho, wo):
        raise ShapeError(f"deform_conv2d: mask must be {(B, G * K, ho, wo)}, got {tuple(mask.shape)}")
    return B, C, H, W, cout, groups, kh, kw, ho, wo, G


def deform_conv2d_pure(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride=1,
    padding=1,
    dilation=1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pure-PyTorch modulated deformable convolution (see the module docstring for the exact definition).

    Args:
        input: ``(B, Cin, H, W)``. offset: ``(B, 2·G·K, Ho, Wo)`` (Δy, Δx per tap, input pixels).
        weight: ``(Cout, Cin/groups, kh, kw)``. bias: ``(Cout,)`` or None. mask: ``(B, G·K, Ho, Wo)`` or None.
    Returns:
        ``(B, Cout, Ho, Wo)``.
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    B, C, H, W, cout, groups, kh, kw, ho, wo, G = _check_shapes(
        input, offset, weight, mask, stride, padding, dilation
    )
    K = kh * kw
    L = ho * wo
    if input.is_meta or offset.is_meta or weight.is_meta:
        return torch.empty((B, cout, ho, wo), dtype=input.dtype, device="meta")

    dtype, device = input.dtype, input.device
    # base sampling positions p0 + p_k, shape (K, Ho, Wo) for rows (y) and columns (x)
    ys = torch.arange(ho, device=device, dtype=dtype) * stride[0] - padding[0]
    xs = torch.arange(wo, device=device, dtype=dtype) * stride[1] - padding[1]
    ky = (torch.arange(kh, device=device, dtype=dtype) * dilation[0]).repeat_interleave(
        kw
    )  # (K,) row-major taps
    kx = (torch.arange(kw, device=device, dtype=dtype) * dilation[1]).repeat(kh)
    base_y = ky[:, None, None] + ys[None, :, None]  # (K, Ho, 1)
    base_x = kx[:, None, None] + xs[None, None, :]  # (K, 1, Wo)

    off = offset.reshape(B, G, K, 2, ho, wo)
    py = base_y + off[:, :, :, 0]  # (B, G, K, Ho, Wo)
    px = base_x + off[:, :, :, 1]
    # grid_sample (align_corners=False) maps normalised u to pixel (u + 1)·W/2 − 0.5; invert it exactly
    gx = (2.0 * px + 1.0) / W - 1.0
    gy = (2.0 * py + 1.0) / H - 1.0
    grid = torch.stack((gx, gy), dim=-1).reshape(B * G, K * ho, wo, 2)
    x = input.reshape(B * G, C // G, H, W)
    cols = F.grid_sample(
        x, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )  # (B·G, C/G, K·Ho, Wo)
    cols = cols.reshape(B, G, C // G, K, L)
    if mask is not None:
        cols = cols * mask.reshape(B, G, 1, K, L)
    # (B, Cin, K, L) -> (B, groups, Cin/groups·K, L); weight (groups, Cout/groups, Cin/groups·K)
    cols = cols.reshape(B, groups, (C // groups) * K, L)
    w = weight.reshape(groups, cout // groups, (C // groups) * K)
    out = torch.matmul(w.unsqueeze(0), cols)  # (B, groups, Cout/groups, L)
    out = out.reshape(B, cout, ho, wo)
    if bias is not None:
        out = out + bias.reshape(1, cout, 1, 1)
    return out


@functools.lru_cache(maxsize=1)
def _torchvision_op():
    """``(torchvision.ops.deform_conv2d, None)`` when it imports, else ``(None, reason)``: a fact about the
    installed packages, checked once per process."""
    try:
        from torchvision.ops import deform_conv2d as tv

        return tv, None
    except Exception as exc:  # ImportError, or a broken binary build raising at import
        return None, f"{type(exc).__name__}: {exc}"


def torchvision_available() -> bool:
    """True when ``torchvision.ops.deform_conv2d`` imports (checked once)."""
    return _torchvision_op()[0] is not None


def _deform(input, offset, weight, bias, stride, padding, dilation, mask, backend: str,
            allow_torchvision: bool = True) -> tuple[torch.Tensor, str]:
    """:func:`modulated_deform_conv2d` returning ``(output, backend actually used)``; no state is kept here."""
    if backend not in ("auto", "torch", "torchvision"):
        raise ValueError(f"deform_conv2d: backend must be 'auto', 'torch' or 'torchvision', got {backend!r}")
    if backend == "torch" or input.is_meta:
        return deform_conv2d_pure(input, offset, weight, bias, stride, padding, dilation, mask), "torch"
    tv, why = _torchvision_op()
    if backend == "torchvision" and tv is None:
        raise ImportError(f"backend='torchvision' but torchvision.ops.deform_conv2d is unavailable: {why}")
    if tv is not None and (allow_torchvision or backend == "torchvision"):
        stride_, padding_, dilation_ = _pair(stride), _pair(padding), _pair(dilation)
        _check_shapes(input, offset, weight, mask, stride_, padding_, dilation_)
        try:
            return tv(input, offset, weight, bias, stride_, padding_, dilation_, mask), "torchvision"
        except (RuntimeError, NotImplementedError):
            if backend == "torchvision":
                raise
            raise _TorchvisionFailed from None
    return deform_conv2d_pure(input, offset, weight, bias, stride, padding, dilation, mask), "torch"


class _TorchvisionFailed(RuntimeError):
    """torchvision's op raised on this input (e.g. a device it was not built for); the caller falls back."""


def modulated_deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride=1,
    padding=1,
    dilation=1,
    mask: torch.Tensor | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Modulated deformable conv with torchvision semantics; ``backend`` = ``"auto"`` | ``"torch"`` | ``"torchvision"``.

    ``"auto"`` uses ``torchvision.ops.deform_conv2d`` when torchvision imports and the call runs (it falls back to
    the pure path if the call raises, e.g. on a device torchvision was not built for); ``"torch"`` always uses
    :func:`deform_conv2d_pure`; ``"torchvision"`` requires torchvision. A pure function: which implementation ran is
    recorded by the module that calls it (:class:`DeformConvModule`), never in module globals.
    """
    try:
        return _deform(input, offset, weight, bias, stride, padding, dilation, mask, backend)[0]
    except _TorchvisionFailed:
        return deform_conv2d_pure(input, offset, weight, bias, stride, padding, dilation, mask)


class DeformConvModule(nn.Module):
    """Base of every deformable-conv layer (GyroDeblurNet's :class:`DeformableConv2d`, EggNet's ``DCNv1``).

    :meth:`deform` runs the op and keeps, on this module only: ``used_backend`` (the implementation the latest call
    ran), the MAC count while :func:`gyrobench.models.complexity.count_macs` counts, a one-way fall-back to the pure
    path after torchvision raised once on this module (logged once), and,
    inside :func:`gyrobench.models.health.probe`, a call to the probe with the op's inputs and output so the
    offsets, mask and output of every block can be measured (docs/models.md, "Deformable-block health").
    """

    backend: str = "auto"
    used_backend: str | None = None
    _tv_failed: bool = False
    _health_probe = None  # set by gyrobench.models.health.probe() for the duration of a with-block
    _mac_counter: list[int] | None = None  # set by gyrobench.models.complexity.count_macs() while it counts

    def deform(self, x, offset, weight, bias, stride, padding, dilation, mask) -> torch.Tensor:
        try:
            out, used = _deform(x, offset, weight, bias, stride, padding, dilation, mask, self.backend,
                                allow_torchvision=not self._tv_failed)
        except _TorchvisionFailed:
            self._tv_failed = True
            log.warning("torchvision deform_conv2d failed on %s input; this layer uses the pure-PyTorch path",
                        x.device.type)
            out, used = deform_conv2d_pure(x, offset, weight, bias, stride, padding, dilation, mask), "torch"
        self.used_backend = used
        if self._mac_counter is not None:  # B·Cout·Ho·Wo output values, each Cin/groups·kh·kw multiply-adds
            self._mac_counter[0] += out.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
        if self._health_probe is not None:
            self._health_probe.record(self, x, offset, mask, out, _pair(stride), _pair(padding), _pair(dilation),
                                      tuple(weight.shape[-2:]))
        return out


class DeformableConv2d(DeformConvModule):
    """Modulated deformable conv whose offsets and mask are predicted from a guide tensor.

    Attribute names follow the official GyroDeblurNet ``conv_deform`` (gyrodeblurnet.md §5.3, keys file):
    ``offset_conv`` (guide → 2K, zero-initialised), ``modulator_conv`` (guide → K, zero-initialised, mask =
    2·sigmoid, so it starts at 1), ``regular_conv`` (holds the main weight only; the module itself is never called).

    ``max_offset`` (gyrobench extension; ``None`` = the official unbounded offsets): the offsets become
    ``max_offset · tanh(offset_conv(guide) / max_offset)`` (feature pixels; BasicVSR++'s bounded residue), the
    same function near zero and never more than ``max_offset`` away from the regular grid.

    ``forward(x (B, Cin, H, W), guide (B, Cg, H, W), base=None) -> (B, Cout, H', W')``; without a guide, ``x`` is
    the guide. ``base`` (gyrobench extension; ``(B, 2K, H', W')`` as (dy, dx) per tap, input pixels) is added to the
    predicted (and bounded) offsets: offsets become a learned residual around ``base``, as BasicVSR++'s
    flow-guided deformable alignment adds its residue to the optical flow.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        bias: bool = False,
        guide_channels: int | None = None,
        backend: str = "auto",
        max_offset: float | None = None,
    ):
        super().__init__()
        guide_channels = in_channels if guide_channels is None else guide_channels
        if max_offset is not None and not float(max_offset) > 0:
            raise ValueError(f"max_offset={max_offset!r}: must be a positive number of pixels (or None: unbounded)")
        k = kernel_size
        self.stride, self.padding, self.dilation, self.backend = stride, padding, dilation, backend
        self.max_offset = None if max_offset is None else float(max_offset)
        self.offset_conv = nn.Conv2d(guide_channels, 2 * k * k, k, stride, padding, dilation, bias=True)
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)
        self.modulator_conv = nn.Conv2d(guide_channels, k * k, k, stride, padding, dilation, bias=True)
        nn.init.zeros_(self.modulator_conv.weight)
        nn.init.zeros_(self.modulator_conv.bias)
        self.regular_conv = nn.Conv2d(in_channels, out_channels, k, stride, padding, dilation, bias=bias)

    def offsets_and_mask(self, guide: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(offset (B, 2K, H', W') as (dy, dx) per tap in input pixels, mask (B, K, H', W') in (0, 2))``."""
        offset = self.offset_conv(guide)
        if self.max_offset is not None:
            offset = self.max_offset * torch.tanh(offset / self.max_offset)
        return offset, 2.0 * torch.sigmoid(self.modulator_conv(guide))

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None,
                base: torch.Tensor | None = None) -> torch.Tensor:
        offset, mask = self.offsets_and_mask(x if guide is None else guide)
        if base is not None:
            offset = offset + base
        return self.deform(x, offset, self.regular_conv.weight, self.regular_conv.bias, self.stride, self.padding,
                           self.dilation, mask)


def dcn_backends(model: nn.Module) -> str | None:
    """The deformable-conv implementation(s) ``model``'s last forward actually ran: ``"torchvision"``,
    ``"torch"`` (pure PyTorch) or ``"torch+torchvision"``; None when it has no (called) deformable conv."""
    used = sorted({m.used_backend for m in model.modules() if isinstance(m, DeformConvModule) and m.used_backend})
    return "+".join(used) or None
