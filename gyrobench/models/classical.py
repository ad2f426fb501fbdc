"""Classical, learning-free reference: non-blind deconvolution with gyro-derived, spatially varying PSFs.

Spec ``baselines.md`` §7; the filters themselves (tiling, Wiener/Tikhonov, Richardson–Lucy, the field check) are in
:mod:`gyrobench.models.deconv`, shared with the learned models' gyro priors (:mod:`gyrobench.models.priors`). This
module registers them as the model ``classical``. Conventions: images ``(B, 3, H, W)`` float, **linear** RGB in
[0, 1]; CMF ``(B, 2M, h, w)`` in full-resolution pixels (docs/conventions.md §1).
"""

from __future__ import annotations

import torch
from torch import nn

from .deconv import (  # noqa: F401  (re-exported: the filter's public names, as before the split)
    check_options,
    deconvolve,
    edge_taper,
    field_log_evidence,
    psf_otf,
    richardson_lucy_fft,
    richardson_lucy_global,
    wiener_fft,
)
from .gyro_inputs import select_cmf
from .registry import register

__all__ = ["ClassicalDeconv"]


@register(
    "classical",
    uses_gyro=True,
    learned=False,
    citation="Wiener (1949) / Richardson (1972), Lucy (1974); gyro PSFs from the CMF (gyrobench baselines.md §7)",
)
class ClassicalDeconv(nn.Module):
    """Classical per-tile Wiener or Richardson–Lucy deconvolution with PSFs from the camera-motion field (§7).

    Options: ``method`` ("wiener" | "rl" | "rl_global"), ``lam`` (Wiener/Tikhonov weight), ``prior`` ("gradient" | "identity"),
    ``iterations`` (RL), ``tv`` (RL TV damping), ``tile`` (px), ``overlap`` (fraction), ``margin`` (px or None), ``samples_per_segment``,
    ``cmf_key`` ("mix" = α-mix of noisy and clean per docs/conventions.md §3, or "cmf_noisy" / "cmf_clean"), ``clip``,
    ``check`` (Wiener only: keep a tile's deconvolution only where its field passes the consistency check of
    :func:`deconvolve`).
    No parameters; deterministic given the options. Runs under ``torch.no_grad``.
    """

    def __init__(
        self,
        method: str = "wiener",
        lam: float = 0.06,
        prior: str = "gradient",
        iterations: int = 30,
        tile: int = 128,
        overlap: float = 0.5,
        margin: int | None = None,
        samples_per_segment: int = 32,
        tv: float = 0.02,
        cmf_key: str = "mix",
        clip: bool = True,
        check: bool = False,
    ):
        super().__init__()
        check_options(method, lam, prior, iterations, tile, overlap, tv, check)
        self.kwargs = dict(
            method=method,
            lam=lam,
            prior=prior,
            iterations=iterations,
            tile=tile,
            overlap=overlap,
            margin=margin,
            samples_per_segment=samples_per_segment,
            tv=tv,
            clip=clip,
            check=check,
        )
        self.cmf_key = cmf_key

    @torch.no_grad()
    def forward(self, batch: dict) -> torch.Tensor:
        """``batch["blurred"] (B, 3, H, W)`` + the batch's CMF -> restored ``(B, 3, H, W)``, linear."""
        return deconvolve(batch["blurred"], select_cmf(batch, self.cmf_key), **self.kwargs)
