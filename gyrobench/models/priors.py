"""Gyro priors: typed components that give a learned network a classical estimate made from the camera-motion field.

A prior is gyrobench's extension, not part of any paper's network (docs/models.md, "Gyro priors"). A network that
takes one (``GyroDeblurNet(prior={...})``) feeds the prior's maps to its input convolution as extra channels and
adds its output to the prior's *base* instead of the blurred input (the global residual), so it learns what the
prior gets wrong. Each kind is a frozen dataclass (the option schema, checked when a config or suite is read) and
an ``nn.Module`` built from it.

Kinds:

- ``wiener`` (:class:`WienerPriorConfig`, :class:`WienerPrior`): the tiled Wiener deconvolution of the blurred
  input with the α-mixed field (:func:`gyrobench.models.deconv.deconvolve`), in the manner of deep Wiener
  deconvolution (Dong, Roth, Schiele, NeurIPS 2020).

Adding a kind: a config dataclass with a ``kind`` literal, a module with ``input_channels``, ``maps`` and ``base``, and an
entry in :data:`PRIOR_KINDS` (and in the :data:`PriorConfig` union), all in this module.

Conventions: images ``(B, 3, H, W)`` float, linear RGB in [0, 1]; fields ``(B, 2M, h, w)`` in full-resolution pixels
(docs/conventions.md §1); maps are computed without gradient.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from ..errors import RecipeError
from .deconv import check_options, deconvolve

__all__ = ["WienerPriorConfig", "WienerPrior", "PriorConfig", "PRIOR_KINDS", "parse_prior", "build_prior",
           "LEGACY_WIENER_KEYS", "legacy_prior"]


@dataclasses.dataclass(frozen=True)
class WienerPriorConfig:
    """``prior: {kind: wiener, ...}``: the per-tile Wiener estimate as extra input and residual base.

    - ``lam``: weight of the Wiener/Tikhonov gradient prior (:func:`~gyrobench.models.deconv.wiener_fft`); 0.06,
      the classical baseline's default.
    - ``tile``: tile side in full-resolution px (50 % overlap); 128. At least 16.
    - ``check``: keep a tile's deconvolution only where the field's kernel explains the tile better than no motion
      (a marginal-likelihood test, :func:`~gyrobench.models.deconv.field_log_evidence`) and pass the blurred tile
      through elsewhere, so a field that disagrees with the image falls back to the blind path without training.
    - ``residual``: also feed the re-blur residual ``x − K ⊛ estimate`` (3 more input channels): near noise where
      the field matches the image's blur, image detail where it claims blur the image does not have.
    - ``gate``: the residual base becomes the per-pixel blend ``x + g·(estimate − x)`` with
      ``g = sigmoid(conv3×3(last decoder features))`` (one conv of ``width → 1``, initialised to trust the
      estimate, ``g`` ≈ 0.95), so a network trained with shuffled fields can fall back to the blind path.
    """

    kind: Literal["wiener"] = "wiener"
    lam: float = 0.06
    tile: int = 128
    check: bool = False
    residual: bool = False
    gate: bool = False

    def __post_init__(self):
        if not self.lam > 0 or self.tile < 16:
            raise RecipeError(f"prior wiener: need lam > 0 and tile >= 16, got lam={self.lam!r}, tile={self.tile!r}")
        check_options("wiener", self.lam, "gradient", 0, self.tile, 0.5, 0.0, self.check)


class WienerPrior(nn.Module):
    """The ``wiener`` prior of a network of level-0 ``width`` (:class:`WienerPriorConfig`). Parameters only with
    ``gate`` (key ``gate.{weight,bias}``)."""

    def __init__(self, cfg: WienerPriorConfig, width: int):
        super().__init__()
        self.cfg = cfg
        self.channels = self.input_channels(cfg)
        self.gate = nn.Conv2d(width, 1, 3, padding=1) if cfg.gate else None
        if self.gate is not None:  # g = sigmoid(3) ≈ 0.95 at initialisation
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, 3.0)

    @staticmethod
    def input_channels(cfg: WienerPriorConfig) -> int:
        """Extra input channels: the estimate, and the re-blur residual with ``residual`` (known before the module
        is built, so a network builds its input conv first and keeps its initialisation order)."""
        return 6 if cfg.residual else 3

    def maps(self, image: torch.Tensor, field: torch.Tensor) -> list[torch.Tensor]:
        """``[estimate]`` or ``[estimate, residual]``, each ``(B, 3, H, W)`` like ``image`` (unpadded), from the
        α-mixed ``field``; no gradient. On the meta device (MAC counting) the image stands in: the FFT filter has
        no conv MACs."""
        if image.device.type == "meta":
            return [image] * (2 if self.cfg.residual else 1)
        with torch.no_grad():
            out = deconvolve(image.detach(), field.detach(), method="wiener", lam=self.cfg.lam, tile=self.cfg.tile,
                             check=self.cfg.check, residual=self.cfg.residual)
        return list(out) if self.cfg.residual else [out]

    def base(self, x0: torch.Tensor, estimate: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The global residual's base: the (padded) estimate, or with ``gate`` its per-pixel blend with the padded
        input ``x0`` by the trust map computed from the last decoder ``features``."""
        if self.gate is None:
            return estimate
        return x0 + torch.sigmoid(self.gate(features)) * (estimate - x0)


#: kind -> (config dataclass, module)
PRIOR_KINDS: dict[str, tuple[type, type]] = {"wiener": (WienerPriorConfig, WienerPrior)}
#: the option type of a network's ``prior`` (a union once there are several kinds)
PriorConfig = WienerPriorConfig


def parse_prior(value, *, source: str = "<options>", prefix: str = "prior") -> PriorConfig | None:
    """``None``, a config, or a mapping ``{kind: ..., ...}`` (``kind`` defaults to ``wiener``) -> the typed config;
    RecipeError naming ``source``, the key and the valid kinds or keys."""
    from ..config import from_dict

    if value is None or isinstance(value, tuple(c for c, _ in PRIOR_KINDS.values())):
        return value
    if not isinstance(value, dict):
        raise RecipeError(f"{source}: {prefix}: expected a mapping such as {{kind: wiener, lam: 0.06}} or null, "
                          f"got {value!r}")
    kind = value.get("kind", "wiener")
    if kind not in PRIOR_KINDS:
        raise RecipeError(f"{source}: {prefix}.kind: unknown prior {kind!r}; kinds: {', '.join(PRIOR_KINDS)}")
    return from_dict(PRIOR_KINDS[kind][0], dict(value), source=source, prefix=prefix)


def build_prior(value, width: int) -> nn.Module | None:
    """The prior module of config or mapping ``value`` for a network of level-0 ``width``; None for None."""
    cfg = parse_prior(value)
    return None if cfg is None else PRIOR_KINDS[cfg.kind][1](cfg, width)


#: the options of GyroDeblurNet before the priors were components (checkpoints of 2026-12-03 to 12-07 use them)
LEGACY_WIENER_KEYS = {"wiener_lam": "lam", "wiener_tile": "tile", "wiener_check": "check",
                      "wiener_residual": "residual", "wiener_gate": "gate"}


def legacy_prior(options: dict, *, model: str) -> dict:
    """Translate the old flat spelling (``wiener_input: true`` with ``wiener_lam``, ``wiener_tile``,
    ``wiener_check``, ``wiener_residual``, ``wiener_gate``) to ``prior: {kind: wiener, ...}``; other options pass
    unchanged. The two spellings build the same module and load the same weights (the old gate key
    ``wiener_gate.*`` is read as ``prior.gate.*``). A prior given as its config dataclass becomes its mapping, so
    checkpoints hold plain values (``weights_only`` loading)."""
    if isinstance(options.get("prior"), tuple(c for c, _ in PRIOR_KINDS.values())):  # a config: record a mapping
        options = {**options, "prior": dataclasses.asdict(options["prior"])}
    old = [k for k in options if k == "wiener_input" or k in LEGACY_WIENER_KEYS]
    if not old:
        return dict(options)
    out = {k: v for k, v in options.items() if k not in old}
    if "prior" in options:
        raise RecipeError(f"{model}: options give both 'prior' and its old spelling ({', '.join(old)}); keep 'prior'")
    if options.get("wiener_input") is not True:
        given = [k for k in ("wiener_check", "wiener_residual", "wiener_gate") if options.get(k)]
        if given:
            raise RecipeError(f"{model}: {', '.join(given)} act on the Wiener estimate; they need wiener_input: true "
                              f"(today's spelling: prior: {{kind: wiener, ...}})")
        return out  # the Wiener options of a model without the prior change nothing
    prior = {"kind": "wiener"}
    prior.update({LEGACY_WIENER_KEYS[k]: options[k] for k in old if k != "wiener_input"})
    out["prior"] = prior
    return out
