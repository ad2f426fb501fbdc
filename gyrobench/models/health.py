"""Health of deformable blocks: where their sampling points land, what their mask keeps, what they output.

A modulated deformable conv (DCN v2) samples its input at ``p = grid + offset`` and weights each sample by a mask
(docs/models.md, "Deformable-block health"). A block is *dead* when its offsets carry the points off the feature map
(bilinear sampling gives zero there, and so does the gradient), or its mask goes to 0: its output is then a constant
(zero without bias) and nothing can bring it back. This module measures, per deformable layer:

- ``offset_mean_px`` / ``offset_max_px``: mean and largest ‖(Δy, Δx)‖ over every tap and output pixel, in pixels
  of the layer's input feature map (not image pixels: at GyroDeblurNet's bottleneck one feature pixel is 8 image
  pixels);
- ``inside``: the fraction of sampling points that get any weight from the map under zero-padded bilinear
  sampling, i.e. ``-1 < y < H`` and ``-1 < x < W`` (a regular 3×3 conv with padding 1 has ``((3H−2)/3H)²`` of them
  inside: 0.84 on an 8×8 map, 0.98 on a 60×60 one);
- ``mask_mean``: the mean modulation scalar (1 for DCN v1, which has no mask; GyroDeblurNet's is 2·sigmoid ∈ (0, 2));
- ``live``: the mean of mask × inside over all sampling points, the fraction of the regular conv's input that
  still reaches the output;
- ``input_abs`` / ``output_abs``: mean |x| of the layer's input and mean |y| of its output.

:func:`probe` is a context manager around any forward pass(es); the statistics accumulate over every call.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from .dcn import DeformConvModule

__all__ = ["BlockHealth", "HealthProbe", "probe", "deform_layers", "sampling_stats", "dead_reasons", "DEAD_FLOORS"]

#: a block is reported dead below these floors (or above the offset ceiling, BasicSR's warning level). ``live`` is
#: reported but not a floor: the mask and the main weight are multiplied, so a small mask with a large weight is
#: not dead; what is dead is a block whose output no longer carries its input (``output_rel``) or whose points
#: left the map (a regular 3x3 conv has 84 % inside on an 8x8 map, 98 % on 60x60)
DEAD_FLOORS = {"inside": 0.25, "output_rel": 1e-2, "offset_mean_px": 50.0}


@dataclass
class BlockHealth:
    """The statistics of one deformable layer over the probed forward passes (module docstring)."""

    name: str
    calls: int
    offset_mean_px: float
    offset_max_px: float
    inside: float
    mask_mean: float
    live: float
    input_abs: float
    output_abs: float

    @property
    def output_rel(self) -> float:
        """mean |output| / mean |input| (0 when the input is 0)."""
        return self.output_abs / self.input_abs if self.input_abs > 0 else 0.0

    def dead(self) -> list[str]:
        """Why this block is dead (empty when alive): :func:`dead_reasons`."""
        return dead_reasons(self)

    def to_dict(self) -> dict:
        return {**asdict(self), "output_rel": self.output_rel, "dead": self.dead()}


def dead_reasons(h: BlockHealth) -> list[str]:
    """The floors of :data:`DEAD_FLOORS` that ``h`` violates, as short phrases (empty list: alive)."""
    f = DEAD_FLOORS
    out = []
    if not math.isfinite(h.offset_mean_px) or h.offset_mean_px > f["offset_mean_px"]:
        out.append(f"offset mean {h.offset_mean_px:.3g} px > {f['offset_mean_px']:g}")
    if not h.inside >= f["inside"]:
        out.append(f"{100 * h.inside:.1f} % of sampling points inside the map (< {100 * f['inside']:g} %)")
    if not h.output_rel >= f["output_rel"]:
        out.append(f"output {h.output_abs:.3g} vs input {h.input_abs:.3g} (ratio < {f['output_rel']:g})")
    return out


def sampling_stats(offset: torch.Tensor, mask: torch.Tensor | None, in_hw: tuple[int, int],
                   kernel: tuple[int, int], stride=(1, 1), padding=(1, 1), dilation=(1, 1)) -> dict[str, float]:
    """Sums over every sampling point of one deformable-conv call (pure function; torchvision's layout).

    ``offset`` ``(B, 2·G·K, Ho, Wo)`` as (Δy, Δx) per tap in input pixels, ``mask`` ``(B, G·K, Ho, Wo)`` or None.
    Returns ``n`` (points), ``offset_sum``, ``offset_max`` (px), ``inside_sum``, ``mask_sum``, ``live_sum``.
    """
    b, c2, ho, wo = offset.shape
    kh, kw = kernel
    k = kh * kw
    off = offset.detach().float().reshape(b, c2 // (2 * k), k, 2, ho, wo)
    dy, dx = off[:, :, :, 0], off[:, :, :, 1]
    dev = off.device
    ky = (torch.arange(kh, device=dev) * dilation[0]).repeat_interleave(kw).float()
    kx = (torch.arange(kw, device=dev) * dilation[1]).repeat(kh).float()
    ys = torch.arange(ho, device=dev).float() * stride[0] - padding[0]
    xs = torch.arange(wo, device=dev).float() * stride[1] - padding[1]
    py = ky[:, None, None] + ys[None, :, None] + dy  # (B, G, K, Ho, Wo)
    px = kx[:, None, None] + xs[None, None, :] + dx
    h, w = in_hw
    inside = ((py > -1) & (py < h) & (px > -1) & (px < w)).float()
    m = torch.ones_like(inside) if mask is None else mask.detach().float().reshape(inside.shape)
    mag = torch.sqrt(dy * dy + dx * dx)
    return {"n": float(inside.numel()), "offset_sum": float(mag.sum()), "offset_max": float(mag.max()),
            "inside_sum": float(inside.sum()), "mask_sum": float(m.sum()), "live_sum": float((m * inside).sum())}


class HealthProbe:
    """Accumulates :func:`sampling_stats` and input/output magnitudes per deformable layer (see :func:`probe`)."""

    def __init__(self, names: dict[int, str]):
        self._names = names
        self._acc: dict[str, dict[str, float]] = {}

    def record(self, module, x, offset, mask, out, stride, padding, dilation, kernel) -> None:
        s = sampling_stats(offset, mask, tuple(x.shape[-2:]), kernel, stride, padding, dilation)
        a = self._acc.setdefault(self._names.get(id(module), type(module).__name__),
                                 {"calls": 0, "n": 0.0, "offset_sum": 0.0, "offset_max": 0.0, "inside_sum": 0.0,
                                  "mask_sum": 0.0, "live_sum": 0.0, "in_sum": 0.0, "in_n": 0.0, "out_sum": 0.0,
                                  "out_n": 0.0})
        a["calls"] += 1
        for key in ("n", "offset_sum", "inside_sum", "mask_sum", "live_sum"):
            a[key] += s[key]
        a["offset_max"] = max(a["offset_max"], s["offset_max"])
        a["in_sum"] += float(x.detach().float().abs().sum())
        a["in_n"] += x.numel()
        a["out_sum"] += float(out.detach().float().abs().sum())
        a["out_n"] += out.numel()

    def report(self) -> list[BlockHealth]:
        """One :class:`BlockHealth` per layer that ran, in the order they first ran."""
        rows = []
        for name, a in self._acc.items():
            n = max(a["n"], 1.0)
            rows.append(BlockHealth(
                name=name, calls=int(a["calls"]), offset_mean_px=a["offset_sum"] / n, offset_max_px=a["offset_max"],
                inside=a["inside_sum"] / n, mask_mean=a["mask_sum"] / n, live=a["live_sum"] / n,
                input_abs=a["in_sum"] / max(a["in_n"], 1.0), output_abs=a["out_sum"] / max(a["out_n"], 1.0)))
        return rows


def deform_layers(model: nn.Module) -> dict[str, DeformConvModule]:
    """The deformable layers of ``model`` by qualified name (a DDP wrapper's ``module.`` prefix removed)."""
    return {name.removeprefix("module."): m for name, m in model.named_modules() if isinstance(m, DeformConvModule)}


@contextlib.contextmanager
def probe(model: nn.Module) -> Iterator[HealthProbe]:
    """Measure every deformable layer of ``model`` during the forward passes run inside the with-block.

    ``with probe(net) as p: net(batch)`` then ``p.report()``. The probe is attached to the layers only inside the
    block (no global state) and reads the tensors the op already computed (no second forward, detached: training
    inside the block is unchanged).
    """
    layers = deform_layers(model)
    p = HealthProbe({id(m): name for name, m in layers.items()})
    for m in layers.values():
        m._health_probe = p
    try:
        yield p
    finally:
        for m in layers.values():
            m._health_probe = None
