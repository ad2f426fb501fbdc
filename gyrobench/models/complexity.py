"""Parameter counts and multiply-accumulates (MACs), counted analytically.

The model is built on the ``meta`` device (no memory, no arithmetic) and run once on meta tensors of the requested
size (default 1×3×720×1280, the GyroBlur-Synth frame). Forward hooks add, per call:

- ``nn.Conv2d``: ``numel(output) · (Cin / groups) · kh · kw``;
- ``nn.ConvTranspose2d``: ``numel(input) · (Cout / groups) · kh · kw``;
- ``nn.Linear``: ``numel(output) · in_features``;
- modulated deformable convs (:func:`gyrobench.models.dcn.modulated_deform_conv2d`), counted explicitly:
  ``B · Cout · Ho · Wo · (Cin / groups) · K`` (the weight matmul).

Bias adds, normalisation, activations, pooling, bilinear sampling and other element-wise work are not counted
(the convention of gyrodeblurnet.md §5.4, whose ~287 GMAC for GyroDeblurNet includes ~25.5 GMAC of deformable
convs). Models that compute with numpy/scipy (the classical reference) or do data-dependent Python work report
``gmacs = None`` with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from ..log import get_logger
from . import dcn
from .registry import available, build

__all__ = [
    "Complexity",
    "count_params",
    "count_macs",
    "model_complexity",
    "complexity_table",
    "DEFAULT_VARIANTS",
]

log = get_logger("models.complexity")

# extra rows listed by `gyrobench models` besides each model's defaults: NAFNet-64 and the small CPU-study
# configurations of gyrobench.models.small
def _variants() -> tuple[tuple[str, dict], ...]:
    from .small import SMALL_CONFIGS

    return (("nafnet", {"width": 64}), *((name, dict(opts)) for name, opts in SMALL_CONFIGS.items()))


DEFAULT_VARIANTS: tuple[tuple[str, dict], ...] = _variants()


@dataclass
class Complexity:
    name: str
    options: dict
    uses_gyro: bool
    learned: bool
    params: int | None
    gmacs: float | None
    dcn_gmacs: float | None
    size: tuple[int, int]
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(model: nn.Module) -> int:
    """Total number of parameter elements (trainable or not); buffers excluded."""
    return sum(p.numel() for p in model.parameters())


def _meta_batch(model: nn.Module, height: int, width: int, batch: int = 1) -> dict:
    """A batch dict (docs/conventions.md §2) of meta tensors; fields sized for GyroDeblurNet's padding rule (÷8 then ÷2)."""
    m = int(getattr(model, "M", None) or getattr(model, "options", {}).get("M", 8) or 8)
    hp, wp = -(-height // 8) * 8, -(-width // 8) * 8
    img = torch.empty(batch, 3, height, width, device="meta")
    cmf = torch.empty(batch, 2 * m, hp // 2, wp // 2, device="meta")
    return {"blurred": img, "cmf_clean": cmf, "cmf_noisy": cmf, "alpha": 1.0, "meta": {}}


def count_macs(model: nn.Module, batch: dict) -> tuple[int, int]:
    """Run ``model(batch)`` once and return ``(total MACs, deformable-conv MACs)`` (see module docstring)."""
    total = [0]

    def conv_hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += out.numel() * (mod.in_channels // mod.groups) * k

    def convt_hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += inp[0].numel() * (mod.out_channels // mod.groups) * k

    def linear_hook(mod, inp, out):
        total[0] += out.numel() * mod.in_features

    handles = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.ConvTranspose2d):
            handles.append(mod.register_forward_hook(convt_hook))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(linear_hook))
    dcn_macs = [0]
    layers = [mod for mod in model.modules() if isinstance(mod, dcn.DeformConvModule)]
    for mod in layers:  # the deformable convs count their own (they run a functional op, not an nn.Conv2d)
        mod._mac_counter = dcn_macs
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for h in handles:
            h.remove()
        for mod in layers:
            mod._mac_counter = None
    return total[0] + dcn_macs[0], dcn_macs[0]


def model_complexity(
    name: str, options: dict | None = None, size: tuple[int, int] = (720, 1280)
) -> Complexity:
    """Parameters and GMACs of registered model ``name`` at ``size = (H, W)`` (batch 1)."""
    options = dict(options or {})
    meta = available()[name]
    note = ""
    try:
        with torch.device("meta"):
            model = build(name, **options)
    except Exception as exc:  # a model whose constructor needs real tensors: count params on CPU
        log.debug("%s: meta build failed (%s); building on CPU", name, exc)
        model = build(name, **options)
    model.eval()
    params = count_params(model)
    gmacs = dcn_g = None
    try:
        macs, dmacs = count_macs(model, _meta_batch(model, *size))
        gmacs, dcn_g = macs / 1e9, dmacs / 1e9
        if macs == 0 and not meta.learned:
            gmacs = dcn_g = None
            note = "non-learned reference; MACs not counted"
    except Exception as exc:
        if not meta.learned:
            note = "non-learned reference; MACs not counted"
        else:
            note = f"MACs not counted: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        log.debug("%s: %s", name, note)
    return Complexity(
        name,
        options,
        bool(getattr(model, "uses_gyro", meta.uses_gyro)),
        meta.learned,
        params,
        gmacs,
        dcn_g,
        tuple(size),
        note,
    )


def complexity_table(
    size: tuple[int, int] = (720, 1280), variants=DEFAULT_VARIANTS, names: list[str] | None = None
) -> list[Complexity]:
    """One :class:`Complexity` per registered model (default options) plus ``variants``, sorted by name."""
    rows = []
    models = available()
    names = list(models) if names is None else names
    for name in names:
        rows.append(model_complexity(name, {}, size))
        for vname, vopts in variants:
            if vname == name:
                rows.append(model_complexity(name, vopts, size))
    return rows
