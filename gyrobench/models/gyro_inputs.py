"""Conversions from the camera-motion field (CMF) to the gyro inputs of the baselines.

Conventions (spec ``baselines.md`` §1.2, ``gyrodeblurnet.md`` §3.1, docs/conventions.md §1):

- A CMF is a float tensor ``(B, 2M, h, w)``: channel pair m (channels 2m, 2m+1) holds the trajectory segment
  ``v_m = p_{m+1}(x) - p_m(x)`` as ``(dx, dy)`` in **full-resolution pixels** (x right, y down), segments in
  forward time order, for the scene point that sits at ``x`` at mid-exposure. ``M`` is even (8 by default).
- Grid sample ``(i, j)`` sits at full-resolution pixel ``(row 2i, column 2j)`` ("even grid").
- Poses ``P_k``, k = 0..M, are trajectory offsets relative to the mid-exposure position: ``P_{M/2} = 0``,
  ``P_k = sum_{m=M/2}^{k-1} v_m`` for k > M/2 and ``P_k = -sum_{m=k}^{M/2-1} v_m`` for k < M/2.

Everything here is a pure, batched torch function (differentiable where it makes sense); no per-pixel loops.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..errors import ShapeError

__all__ = [
    "check_cmf",
    "select_cmf",
    "cmf_poses",
    "interp_even_grid",
    "upsample_even_grid",
    "deepgyro_blur_field",
    "eggnet_mgv",
    "trajectory_psf",
    "psf_radius",
]


def check_cmf(cmf: torch.Tensor, name: str = "cmf") -> int:
    """Validate a CMF tensor ``(B, 2M, h, w)`` with even M >= 2; return M."""
    if not isinstance(cmf, torch.Tensor) or cmf.ndim != 4 or cmf.shape[1] % 2 or cmf.shape[1] < 4:
        shape = tuple(cmf.shape) if hasattr(cmf, "shape") else type(cmf).__name__
        raise ShapeError(
            f"{name}: expected a camera-motion field of shape (B, 2M, H/2, W/2) with M even >= 2, got {shape}; "
            "fix: pass the batch's 'cmf_noisy'/'cmf_clean' tensor (docs/conventions.md §2)"
        )
    m = cmf.shape[1] // 2
    if m % 2:
        raise ShapeError(
            f"{name}: M = {m} segments is odd, so there is no mid-exposure pose; fix: use an even M (e.g. 8)"
        )
    return m


def select_cmf(batch: Mapping, key: str = "mix") -> torch.Tensor:
    """The CMF a baseline should see, from the batch dict (docs/conventions.md §2–§3).

    ``key="mix"`` (default): ``alpha * cmf_noisy + (1 - alpha) * cmf_clean`` when both are present (the curriculum
    of docs/conventions.md §3 applied to the input field; ``alpha`` is a float or a ``(B,)`` tensor, default 1.0),
    otherwise whichever of the two exists. ``key="cmf_noisy"`` or ``"cmf_clean"`` picks one field.
    """
    if key != "mix":
        if key not in batch:
            raise ShapeError(
                f"batch has no '{key}' (keys: {sorted(batch)}); fix: provide it or use cmf_key='mix'"
            )
        return batch[key]
    noisy, clean = batch.get("cmf_noisy"), batch.get("cmf_clean")
    if noisy is None and clean is None:
        raise ShapeError(
            f"batch has neither 'cmf_noisy' nor 'cmf_clean' (keys: {sorted(batch)}); "
            "fix: gyro baselines need the camera-motion field (docs/conventions.md §2)"
        )
    if noisy is None or clean is None:
        return noisy if noisy is not None else clean
    alpha = batch.get("alpha", 1.0)
    if isinstance(alpha, torch.Tensor):
        alpha = (
            alpha.to(noisy.dtype).reshape(-1, *([1] * (noisy.ndim - 1)))
            if alpha.ndim
            else alpha.to(noisy.dtype)
        )
    elif float(alpha) == 1.0:
        return noisy
    return alpha * noisy + (1 - alpha) * clean


def cmf_poses(cmf: torch.Tensor) -> torch.Tensor:
    """Poses ``P_0..P_M`` relative to mid-exposure: ``(B, 2M, h, w) -> (B, M+1, 2, h, w)``, pixels, (dx, dy).

    Spec ``baselines.md`` §1.2 table ("poses P_k").

    Example: every segment 1 px to the right -> poses -4..4 px::

        >>> cmf = torch.zeros(1, 16, 1, 1)
        >>> cmf[:, 0::2] = 1.0
        >>> cmf_poses(cmf)[0, :, 0, 0, 0].tolist()
        [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    """
    m = check_cmf(cmf)
    b, _, h, w = cmf.shape
    v = cmf.reshape(b, m, 2, h, w)
    c = m // 2
    zero = torch.zeros_like(v[:, :1])
    pro = torch.cumsum(v[:, c:], dim=1)  # P_{c+1} .. P_M
    pre = -torch.flip(torch.cumsum(torch.flip(v[:, :c], dims=[1]), dim=1), dims=[1])  # P_0 .. P_{c-1}
    return torch.cat([pre, zero, pro], dim=1)


def _interp_axis(x: torch.Tensor, coords: torch.Tensor, dim: int) -> torch.Tensor:
    """Linear interpolation of ``x`` along ``dim`` at fractional indices ``coords`` (1-D), edge-clamped."""
    n = x.shape[dim]
    coords = coords.to(x.dtype if x.is_floating_point() else torch.float64).clamp(0, n - 1)
    i0 = torch.floor(coords).long().clamp(0, n - 1)
    i1 = (i0 + 1).clamp(max=n - 1)
    f = coords - i0.to(coords.dtype)
    shape = [1] * x.ndim
    shape[dim] = -1
    f = f.reshape(shape).to(x.dtype)
    return x.index_select(dim, i0) * (1 - f) + x.index_select(dim, i1) * f


def interp_even_grid(field: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """Evaluate a half-resolution field at full-resolution pixel rows ``ys`` and columns ``xs``.

    ``field (..., h, w)`` with sample ``(i, j)`` at pixel ``(2i, 2j)``; ``ys (Ny,)``, ``xs (Nx,)`` in
    full-resolution pixels (may be fractional) -> ``(..., Ny, Nx)``. Bilinear at grid index ``(y/2, x/2)`` with edge
    clamping (spec ``baselines.md`` §1.2 "Upsampling to full resolution"); values are not rescaled.
    """
    ys = torch.as_tensor(ys, device=field.device) / 2
    xs = torch.as_tensor(xs, device=field.device) / 2
    out = _interp_axis(field, ys, field.ndim - 2)
    return _interp_axis(out, xs, field.ndim - 1)


def upsample_even_grid(field: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """``(..., h, w) -> (..., H, W)`` with the even-grid bilinear rule (§1.2); vectors keep their pixel units.

    Needs ``h >= ceil(H/2)`` and ``w >= ceil(W/2)`` (a larger field, e.g. one covering a padded size, is allowed:
    its extra rows/columns beyond the image are simply not used).
    """
    H, W = int(out_hw[0]), int(out_hw[1])
    h, w = field.shape[-2:]
    if h < math.ceil(H / 2) or w < math.ceil(W / 2):
        raise ShapeError(
            f"motion field of spatial size {h}x{w} is too small for an image of {H}x{W} "
            f"(needs at least {math.ceil(H / 2)}x{math.ceil(W / 2)}); fix: compute the field for the image's size"
        )
    dev = field.device
    return interp_even_grid(
        field,
        torch.arange(H, device=dev, dtype=torch.float64),
        torch.arange(W, device=dev, dtype=torch.float64),
    )


def deepgyro_blur_field(
    cmf: torch.Tensor,
    out_hw: tuple[int, int],
    *,
    rounding: bool = True,
    canonical: bool = True,
    encode: str = "deepgyro",
) -> torch.Tensor:
    """DeepGyro's two blur channels from a CMF: ``(B, 2M, h, w) -> (B, 2, H, W)`` (spec ``baselines.md`` §3.7).

    1. ``b = sum_m v_m`` (start->end displacement) at half resolution; 2. even-grid upsampling to ``out_hw``;
    3. ``rounding``: round to integer pixels (faithful to [D-R]; ``False`` keeps floats); 4. ``canonical``: where
    ``b_y > 0`` negate both components (undirected segment, §3.2 step 6); 5. clamp to [-128, 127] and, with
    ``encode="deepgyro"``, return ``(b + 128) / 255`` (0.502 = no blur); ``encode="pixels"`` returns ``b`` in px.
    Channel order (blurx, blury). Rounding has zero gradient, as in the original integer PNG encoding.
    """
    check_cmf(cmf)
    b, c, h, w = cmf.shape
    total = cmf.reshape(b, c // 2, 2, h, w).sum(dim=1)
    full = upsample_even_grid(total, out_hw)
    if rounding:
        full = torch.round(full)
    if canonical:
        flip = (full[:, 1:2] > 0).to(full.dtype)
        full = full * (1 - 2 * flip)
    full = full.clamp(-128, 127)
    if encode == "deepgyro":
        return (full + 128) / 255
    if encode == "pixels":
        return full
    raise ShapeError(f"deepgyro_blur_field: unknown encode='{encode}'; fix: use 'deepgyro' or 'pixels'")


def eggnet_mgv(cmf: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """EggNet's motion-guidance vectors: ``(B, 2M, h, w) -> (B, 4, H, W)``, pixels (spec ``baselines.md`` §4.3).

    ``MGV_pre = P_0 = -sum_{m<M/2} v_m`` (centre->start), ``MGV_pro = P_M = sum_{m>=M/2} v_m`` (centre->end), both
    computed at half resolution and upsampled with the even-grid rule; channels ``[pre_x, pre_y, pro_x, pro_y]``,
    raw pixels, no normalisation.
    """
    m = check_cmf(cmf)
    b, _, h, w = cmf.shape
    v = cmf.reshape(b, m, 2, h, w)
    pre = -v[:, : m // 2].sum(dim=1)
    pro = v[:, m // 2 :].sum(dim=1)
    return upsample_even_grid(torch.cat([pre, pro], dim=1), out_hw)


def psf_radius(poses: torch.Tensor) -> int:
    """Half-size r of a PSF grid of side ``2r+1 = 2*ceil(max|P_k|) + 3`` (spec ``baselines.md`` §7.2 step 3)."""
    if poses.numel() == 0:
        return 1
    return int(math.ceil(float(poses.detach().abs().max()))) + 1


def trajectory_psf(
    poses: torch.Tensor, *, samples_per_segment: int = 32, radius: int | None = None
) -> torch.Tensor:
    """Rasterise piecewise-linear trajectories into point-spread functions (spec ``baselines.md`` §7.1–§7.2).

    ``poses (..., M+1, 2)``: trajectory offsets ``P_0..P_M`` as (dx, dy) pixels -> PSFs ``(..., S, S)`` float64,
    ``S = 2r+1`` with ``r = radius`` or ``psf_radius(poses)``; array index ``[r + u_y, r + u_x]`` holds ``K(u)``.

    Each of the M segments gets 1/M of the mass (equal time per segment, constant speed inside it), spread over
    ``samples_per_segment`` points at the centres of equal sub-intervals, each splatted bilinearly (anti-aliased),
    then normalised to sum 1. Orientation: the blurred image is ``B(y) = sum_u K(u) L(y - u)`` (ordinary
    convolution, ``scipy.ndimage.convolve`` with the PSF), so a point source smears toward ``+P_k``.
    Mass that would fall outside the grid (only when ``radius`` is given too small) is dropped before
    normalisation.

    Example: a 2 px horizontal path centred on the origin (P_0 = (-1, 0), P_2 = (1, 0), two segments)::

        >>> psf = trajectory_psf(torch.tensor([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), samples_per_segment=2)
        >>> psf.shape, [round(v, 3) for v in psf[2].tolist()]
        (torch.Size([5, 5]), [0.0, 0.25, 0.5, 0.25, 0.0])
    """
    if poses.ndim < 2 or poses.shape[-1] != 2 or poses.shape[-2] < 2:
        raise ShapeError(f"trajectory_psf: poses must be (..., M+1, 2), got {tuple(poses.shape)}")
    r = psf_radius(poses) if radius is None else int(radius)
    side = 2 * r + 1
    lead = poses.shape[:-2]
    p = poses.reshape(-1, poses.shape[-2], 2).to(torch.float64)
    n = p.shape[0]
    t = (torch.arange(samples_per_segment, dtype=torch.float64, device=p.device) + 0.5) / samples_per_segment
    a, d = p[:, :-1, None, :], (p[:, 1:] - p[:, :-1])[:, :, None, :]
    pts = (a + t[None, None, :, None] * d).reshape(n, -1, 2) + r  # (n, M*s, 2) in grid coords (x, y)
    x0 = torch.floor(pts[..., 0])
    y0 = torch.floor(pts[..., 1])
    fx, fy = pts[..., 0] - x0, pts[..., 1] - y0
    x0, y0 = x0.long(), y0.long()
    psf = torch.zeros(n, side * side, dtype=torch.float64, device=p.device)
    for dy, dx, wgt in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < side) & (yi >= 0) & (yi < side)
        idx = yi.clamp(0, side - 1) * side + xi.clamp(0, side - 1)
        psf.scatter_add_(1, idx, wgt * inside)
    psf = psf / psf.sum(dim=1, keepdim=True).clamp_min(1e-300)
    return psf.reshape(*lead, side, side)
