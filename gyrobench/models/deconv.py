"""Non-blind deconvolution with gyro-derived, spatially varying PSFs: the tiled Wiener/Tikhonov and Richardson–Lucy
filters under both the classical baseline (:mod:`gyrobench.models.classical`) and the learned networks' gyro priors
(:mod:`gyrobench.models.priors`). Pure functions on tensors; no parameters, no registry.

Spec ``baselines.md`` §7. The blurred linear image is modelled tile-wise as ``B = L ⊛ K + n`` (§7.1) with the PSF
``K`` of the tile centre rasterised from the camera-motion field (§7.2, :func:`gyro_inputs.trajectory_psf`).
The image is cut into overlapping tiles (§7.3), each tile is deconvolved with its own PSF by Wiener/Tikhonov
(§7.4, closed form) or Richardson–Lucy (§7.5), and the tiles are blended with windows.

Conventions: images ``(B, 3, H, W)`` float, **linear** RGB in [0, 1]; CMF ``(B, 2M, h, w)`` in full-resolution
pixels (docs/conventions.md §1). Every RGB channel is processed independently. All tiles of an image are processed at
once with batched ``torch.fft`` (no per-tile Python loop); the only loop is over the images of the batch (to bound
memory) and, for Richardson–Lucy, over iterations.

Tiling details (choices where §7.3 leaves room, documented in ``docs/baselines.md``):

- tiles of ``tile`` px with stride ``round(tile * (1 - overlap))``; the image is padded by half a tile (reflect,
  replicate where the image is too small) so every pixel is covered by the central part of some tile;
- each tile is deconvolved on an *extended* tile with ``margin`` extra pixels of real (padded) image context on
  every side (default ``max(r, 16)``, minimum ``r``, the PSF radius: §7.3 "pad each tile by the PSF radius"), treated as
  periodic by the FFT after an edge taper over the margin (:func:`edge_taper`, §7.3's "or edge-taper"), then
  cropped;
- blending window ``w(n) = sin²(π (n + ½) / tile)`` per axis (a Hann window shifted by half a sample, so it is
  never zero; at 50 % overlap the shifted windows sum to one): ``L = Σ w·L_tile / Σ w``;
- the PSF of a tile is evaluated at the tile centre, clamped into the image, with the even-grid rule (§1.2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import GyrobenchError, ShapeError
from ..log import get_logger
from .gyro_inputs import (
    check_cmf,
    cmf_poses,
    interp_even_grid,
    psf_radius,
    trajectory_psf,
    upsample_even_grid,
)

log = get_logger("models.deconv")

__all__ = [
    "check_options",
    "deconvolve",
    "field_log_evidence",
    "wiener_fft",
    "richardson_lucy_fft",
    "psf_otf",
    "edge_taper",
    "richardson_lucy_global",
]


def psf_otf(psf: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Optical transfer function of centred PSFs ``(..., S, S)`` on a ``size`` grid: ``(..., Hf, Wf//2+1)`` complex.

    The PSF centre (index ``r = S // 2``) is moved to the origin so that multiplying spectra is the periodic
    version of ``(L ⊛ K)(y) = Σ_u K(u) L(y - u)``.
    """
    s = psf.shape[-1]
    hf, wf = size
    if s > hf or s > wf:
        raise ShapeError(
            f"PSF of side {s} does not fit an FFT tile of {hf}x{wf}; fix: use a larger tile or margin"
        )
    r = s // 2
    pad = F.pad(psf, (0, wf - s, 0, hf - s))
    pad = torch.roll(pad, shifts=(-r, -r), dims=(-2, -1))
    return torch.fft.rfft2(pad)


def _grad_prior(size: tuple[int, int], dtype, device) -> torch.Tensor:
    """``|D̂x|² + |D̂y|²`` of the forward-difference filters on a ``size`` grid (rfft layout)."""
    hf, wf = size
    ky = torch.fft.fftfreq(hf, device=device, dtype=dtype)
    kx = torch.fft.rfftfreq(wf, device=device, dtype=dtype)
    return (2 - 2 * torch.cos(2 * math.pi * ky))[:, None] + (2 - 2 * torch.cos(2 * math.pi * kx))[None, :]


def wiener_fft(tiles: torch.Tensor, otf: torch.Tensor, lam: float, prior: str = "gradient") -> torch.Tensor:
    """Closed-form Wiener/Tikhonov deconvolution of periodic tiles (spec §7.4).

    ``L̂ = F⁻¹[ conj(K̂) B̂ / (|K̂|² + λ P) ]`` with ``P = |D̂x|² + |D̂y|²`` (``prior="gradient"``) or ``P = 1``
    (``prior="identity"``: plain Wiener with constant noise-to-signal ratio λ). ``tiles (..., Hf, Wf)``,
    ``otf`` broadcastable to ``(..., Hf, Wf//2+1)``.
    """
    size = tiles.shape[-2:]
    if prior == "gradient":
        reg = lam * _grad_prior(size, tiles.dtype, tiles.device)
    elif prior == "identity":
        reg = lam
    else:
        raise GyrobenchError(f"classical: unknown prior '{prior}'; fix: use 'gradient' or 'identity'")
    bhat = torch.fft.rfft2(tiles)
    est = torch.conj(otf) * bhat / (otf.real**2 + otf.imag**2 + reg)
    return torch.fft.irfft2(est, s=size)


#: nuisance grids of :func:`field_log_evidence`: a shared isotropic Gaussian blur (px; optics, demosaicking) and
#: the noise-to-signal ratio, both profiled out (the maximum over the grid is taken for every hypothesis)
EVIDENCE_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
EVIDENCE_NSRS = (0.003, 0.01, 0.03, 0.1)


def field_log_evidence(
    tiles: torch.Tensor,
    otf: torch.Tensor,
    sigmas: tuple[float, ...] = EVIDENCE_SIGMAS,
    nsrs: tuple[float, ...] = EVIDENCE_NSRS,
) -> torch.Tensor:
    """Profile Whittle log-likelihood of tiles under ``B = K ⊛ G_σ ⊛ L + n`` with a Gaussian gradient prior on ``L``.

    Model (the Wiener filter's own, §7.4, as a probability): per frequency ``B̂(ω)`` is complex Gaussian with power
    ``V(ω) = s·(|K̂(ω)|² |Ĝ_σ(ω)|² / P(ω) + nsr)``, ``P = |D̂x|² + |D̂y|²`` (gradient prior: natural images'
    1/|ω|² spectrum), ``G_σ`` an isotropic Gaussian blur of ``σ`` px that every hypothesis shares (the optics and
    the demosaicking soften even an image without motion), ``nsr`` the noise-to-signal ratio and ``s`` the
    tile's gradient power, at its maximum-likelihood value ``mean(I / g)`` with ``g = |K̂|²|Ĝ_σ|²/P + nsr``;
    ``I = |B̂|²`` is the periodogram of the mean-free tile under a 2-D Hann window (no seam leaks).
    Per (σ, nsr): ``ℓ = −N log(mean(I/g)) − Σ_ω log g``; returned is the maximum over the grids ``sigmas`` ×
    ``nsrs`` (the nuisances profiled out), summed over channels: ``(...)`` for tiles ``(C, ..., Hf, Wf)`` and an
    ``otf`` broadcastable to ``(..., Hf, Wf//2+1)``. DC is left out; the rfft half-plane is weighted so every
    frequency of the full plane counts once.
    The difference between two kernels' values is a log evidence ratio (the marginal-likelihood criterion for
    kernels of Levin, Weiss, Durand, Freeman, CVPR 2011, here with a Gaussian prior): a field that claims blur the
    tile does not show, or blur in another direction, scores below the no-motion kernel ``K̂ = 1``.
    """
    hf, wf = tiles.shape[-2:]
    dt, dev = tiles.dtype, tiles.device
    win = [torch.hann_window(n, periodic=False, dtype=dt, device=dev) for n in (hf, wf)]
    x = tiles - tiles.mean(dim=(-2, -1), keepdim=True)
    bhat = torch.fft.rfft2(x * (win[0][:, None] * win[1][None, :]))
    power = bhat.real**2 + bhat.imag**2
    prior = _grad_prior((hf, wf), dt, dev).clone()
    weight = torch.full_like(prior, 2.0)
    weight[:, 0] = 1.0
    if wf % 2 == 0:
        weight[:, -1] = 1.0
    weight[0, 0] = 0.0  # DC: the prior has no power there
    prior[0, 0] = 1.0
    n = float(weight.sum())
    ky = torch.fft.fftfreq(hf, device=dev, dtype=dt)[:, None]
    kx = torch.fft.rfftfreq(wf, device=dev, dtype=dt)[None, :]
    f2 = ky**2 + kx**2  # cycles/px squared
    k2 = (otf.real**2 + otf.imag**2).to(dt)
    best = None
    for sigma in sigmas:
        shape = k2 * torch.exp(-4 * math.pi**2 * float(sigma) ** 2 * f2) / prior  # |K̂ Ĝσ|²/P
        for nsr in nsrs:
            g = shape + float(nsr)
            scale = (weight * power / g).sum(dim=(-2, -1)) / n
            ll = -n * torch.log(scale.clamp_min(1e-30)) - (weight * torch.log(g)).sum(dim=(-2, -1))
            best = ll if best is None else torch.maximum(best, ll)
    return best.sum(dim=0)


def _tv_divergence(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``div(∇x / |∇x|)`` with forward differences for ∇ and backward differences for div (periodic)."""
    gx = torch.roll(x, -1, dims=-1) - x
    gy = torch.roll(x, -1, dims=-2) - x
    norm = torch.sqrt(gx**2 + gy**2 + eps**2)
    nx, ny = gx / norm, gy / norm
    return nx - torch.roll(nx, 1, dims=-1) + ny - torch.roll(ny, 1, dims=-2)


def richardson_lucy_fft(
    tiles: torch.Tensor, otf: torch.Tensor, iterations: int, eps: float = 1e-6, tv: float = 0.0
) -> torch.Tensor:
    """Richardson–Lucy on periodic tiles (spec §7.5): ``L ← L · [K̃ ⊛ (B / (K ⊛ L + ε))]``, ``L⁰ = B``.

    ``K̃`` (the flipped PSF, i.e. correlation) is ``conj(K̂)`` in the Fourier domain. Negative inputs are
    clamped to 0 first (RL assumes non-negative, Poisson-like data). ``tv > 0`` adds §7.5's optional total-variation
    damping: the update is divided by ``1 − tv · div(∇L/|∇L|)`` (Dey et al. 2006; §7.5 suggests tv ≈ 0.002).
    """
    size = tiles.shape[-2:]
    b = tiles.clamp_min(0)
    est = b.clamp_min(eps)
    for _ in range(int(iterations)):
        pred = torch.fft.irfft2(otf * torch.fft.rfft2(est), s=size)
        ratio = b / (pred.clamp_min(0) + eps)
        update = torch.fft.irfft2(torch.conj(otf) * torch.fft.rfft2(ratio), s=size).clamp_min(0)
        if tv > 0:
            update = update / (1 - tv * _tv_divergence(est)).clamp_min(1e-3)
        est = est * update
    return est


def edge_taper(tiles: torch.Tensor, otf: torch.Tensor, width: int) -> torch.Tensor:
    """Make periodic tiles consistent at their wrap-around seam (the idea of MATLAB's ``edgetaper``).

    ``T' = a·T + (1 - a)·(T ⊛ K)_periodic`` with ``a`` a separable ramp, 0 at the tile border and 1 from
    ``width`` px inwards (sin² profile). Near the seam the tile then equals its own periodic blur, so the FFT
    deconvolution sees no jump there and does not ring; the tile's core is unchanged.
    """
    size = tiles.shape[-2:]
    if width <= 0:
        return tiles
    blurred = torch.fft.irfft2(otf * torch.fft.rfft2(tiles), s=size)
    ramps = []
    for n in size:
        d = torch.arange(n, dtype=tiles.dtype, device=tiles.device)
        d = torch.minimum(d + 0.5, n - d - 0.5).clamp(max=width) / width
        ramps.append(torch.sin(0.5 * math.pi * d) ** 2)
    a = ramps[0][:, None] * ramps[1][None, :]
    return a * tiles + (1 - a) * blurred


def _fast_len(n: int) -> bool:
    """True when ``n`` has no prime factor above 5 (fast FFT sizes)."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def _pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
    return F.pad(x, (left, right, top, bottom), mode=mode)


def _window(n: int, dtype, device) -> torch.Tensor:
    return torch.sin(math.pi * (torch.arange(n, dtype=dtype, device=device) + 0.5) / n) ** 2


def _path_samples(poses: torch.Tensor, max_step: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-sample the piecewise-linear pose path so consecutive samples are <= ``max_step`` px apart.

    ``poses (B, M+1, 2, H, W)`` -> displacements ``(B, P, 2, H, W)`` and trapezoid weights ``(P,)`` (sum 1, equal
    time per segment).
    """
    m = poses.shape[1] - 1
    seg = (poses[:, 1:] - poses[:, :-1]).norm(dim=2).amax()
    n = max(1, int(math.ceil(float(seg) / max_step)))
    t = torch.arange(n, dtype=poses.dtype, device=poses.device) / n
    a, d = poses[:, :-1, None], (poses[:, 1:] - poses[:, :-1])[:, :, None]
    pts = (a + t.reshape(1, 1, n, 1, 1, 1) * d).flatten(1, 2)
    pts = torch.cat([pts, poses[:, -1:]], dim=1)  # (B, m*n + 1, 2, H, W)
    w = torch.ones(m * n + 1, dtype=poses.dtype, device=poses.device)
    w[0] = w[-1] = 0.5
    return pts, w / w.sum()


def _warp(img: torch.Tensor, disp: torch.Tensor, sign: float) -> torch.Tensor:
    """``out[p](y) = img(y + sign * disp[p](y))`` bilinear (edge-replicated): img ``(1, C, H, W)``,
    disp ``(P, 2, H, W)`` px (dx, dy) -> ``(P, C, H, W)``."""
    P, _, H, W = disp.shape
    ys = torch.arange(H, dtype=disp.dtype, device=disp.device)[:, None]
    xs = torch.arange(W, dtype=disp.dtype, device=disp.device)[None, :]
    gx = (xs + sign * disp[:, 0]) * (2 / max(W - 1, 1)) - 1
    gy = (ys + sign * disp[:, 1]) * (2 / max(H - 1, 1)) - 1
    grid = torch.stack([gx, gy], dim=-1).to(img.dtype)
    return F.grid_sample(
        img.expand(P, -1, -1, -1), grid, mode="bilinear", padding_mode="border", align_corners=True
    )


def richardson_lucy_global(
    blurred: torch.Tensor, poses: torch.Tensor, iterations: int, eps: float = 1e-6, max_step: float = 1.0
) -> torch.Tensor:
    """Tile-free RL with the dense displacement field (spec §7.5 "Global variant").

    Forward operator ``A(L)(y) = Σ_k w_k L(y − P_k(y))`` over the pose path sub-sampled to <= ``max_step`` px
    (trapezoid weights), adjoint approximated by warping with the opposite displacements,
    ``L ← L · Aᵀ(B / A(L)) / Aᵀ(1)``. ``blurred (1, C, H, W)``, ``poses (1, M+1, 2, H, W)`` full resolution.
    Memory and time grow with the number of path samples (one warp each, twice per iteration).
    """
    disp, w = _path_samples(poses, max_step)
    disp, w = disp[0], w.to(blurred.dtype).reshape(-1, 1, 1, 1)

    chunk = 8  # path samples warped at once (bounds memory at ~chunk x the image)

    def warp_sum(x, sign):
        return sum(
            (w[i : i + chunk] * _warp(x, disp[i : i + chunk], sign)).sum(0, keepdim=True)
            for i in range(0, disp.shape[0], chunk)
        )

    def fwd(x):
        return warp_sum(x, -1.0)

    def adj(x):
        return warp_sum(x, 1.0)

    b = blurred.clamp_min(0)
    norm = adj(torch.ones_like(b)).clamp_min(eps)
    est = b.clamp_min(eps)
    for _ in range(int(iterations)):
        est = est * adj(b / (fwd(est) + eps)) / norm
    return est


def check_options(method: str, lam: float, prior: str, iterations: int, tile: int, overlap: float,
                   tv: float, check: bool = False) -> None:
    """The option checks of :func:`deconvolve`, also run by the models built on it when they are constructed
    (GyrobenchError with the fix)."""
    if method not in ("wiener", "rl", "rl_global"):
        raise GyrobenchError(f"classical: unknown method '{method}'; fix: use 'wiener', 'rl' or 'rl_global'")
    if check and method != "wiener":
        raise GyrobenchError(f"classical: check=True needs method 'wiener', got '{method}'")
    if not 0 <= overlap < 1 or tile < 4 or iterations < 0 or lam < 0 or tv < 0:
        raise GyrobenchError(
            f"classical: need tile >= 4, 0 <= overlap < 1, iterations >= 0, lam >= 0, tv >= 0; got "
            f"tile={tile}, overlap={overlap}, iterations={iterations}, lam={lam}, tv={tv}"
        )
    if prior not in ("gradient", "identity"):
        raise GyrobenchError(f"classical: unknown prior '{prior}'; fix: use 'gradient' or 'identity'")


def deconvolve(
    blurred: torch.Tensor,
    cmf: torch.Tensor,
    *,
    method: str = "wiener",
    lam: float = 0.06,
    prior: str = "gradient",
    iterations: int = 30,
    tile: int = 128,
    overlap: float = 0.5,
    margin: int | None = None,
    samples_per_segment: int = 32,
    eps: float = 1e-6,
    tv: float = 0.02,
    clip: bool = True,
    residual: bool = False,
    check: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Deconvolve ``blurred (B, 3, H, W)`` (linear) with per-tile PSFs from ``cmf (B, 2M, h, w)``; see module doc.

    ``method``: ``"wiener"`` (§7.4; ``lam``, ``prior``), ``"rl"`` (§7.5; ``iterations``) or ``"rl_global"`` (§7.5's
    tile-free variant, :func:`richardson_lucy_global`; ``iterations``; ignores the tiling options). ``tile``/``overlap``:
    tile side in px and fractional overlap (§7.3). ``margin``: context px around each tile for the FFT (default
    ``max(r, 16)``, minimum the PSF radius r). ``tv``: RL total-variation damping weight (§7.5; 0 = off; tiled
    ``"rl"`` only; default 0.02, tuned).
    Returns ``(B, 3, H, W)`` in the input dtype, clipped to [0, 1] when ``clip``.

    ``residual`` (``"wiener"`` only): also return the re-blur residual ``B − K ⊛ L̂`` of every tile (blended with
    the same windows; linear, not clipped), ``(estimate, residual)``. Where the field describes the image's blur
    it is the noise plus what the filter's prior removed; where the field claims blur the image does not have (a
    wrong field), it holds the image detail the kernel would have destroyed: a consistency map of the field.

    ``check`` (``"wiener"`` only; gyrobench's field-consistency check, not in the spec): every tile keeps its
    deconvolution only where the field's kernel explains the tile better than no motion at all
    (:func:`field_log_evidence`: log evidence of ``K`` above that of ``K̂ = 1``);
    elsewhere the tile is passed through unchanged (the blurred input). A wrong field (another frame's motion)
    then falls back to the input instead of ringing; a right one keeps its deconvolution.
    """
    if blurred.ndim != 4:
        raise ShapeError(f"classical: blurred must be (B, C, H, W), got {tuple(blurred.shape)}")
    check_cmf(cmf)
    if cmf.shape[0] != blurred.shape[0]:
        raise ShapeError(f"classical: batch sizes differ: blurred {blurred.shape[0]}, cmf {cmf.shape[0]}")
    check_options(method, lam, prior, iterations, tile, overlap, tv, check)
    if residual and method != "wiener":
        raise GyrobenchError(f"classical: residual=True needs method 'wiener', got '{method}'")
    B, C, H, W = blurred.shape
    if cmf.shape[-2] < math.ceil(H / 2) or cmf.shape[-1] < math.ceil(W / 2):
        raise ShapeError(
            f"classical: motion field {tuple(cmf.shape)} is too small for an image of {H}x{W} (needs at least "
            f"{math.ceil(H / 2)}x{math.ceil(W / 2)} samples); fix: compute the CMF for the image's size"
        )
    work = torch.float32 if blurred.dtype != torch.float64 else torch.float64
    dev = blurred.device
    if method == "rl_global":
        poses_full = upsample_even_grid(cmf_poses(cmf.to(work)).flatten(1, 2), (H, W))
        poses_full = poses_full.reshape(B, -1, 2, H, W)
        out = torch.cat(
            [
                richardson_lucy_global(blurred[i : i + 1].to(work), poses_full[i : i + 1], iterations, eps)
                for i in range(B)
            ]
        )
        return (out.clamp(0, 1) if clip else out).to(blurred.dtype)
    stride = max(1, int(round(tile * (1 - overlap))))
    off = tile // 2
    ny = math.ceil(max(H + 2 * off - tile, 0) / stride) + 1
    nx = math.ceil(max(W + 2 * off - tile, 0) / stride) + 1
    hq, wq = (ny - 1) * stride + tile, (nx - 1) * stride + tile  # padded canvas holding all tiles
    # tile centres in image pixel coordinates, clamped into the image
    cy = (torch.arange(ny, dtype=torch.float64, device=dev) * stride - off + (tile - 1) / 2).clamp(0, H - 1)
    cx = (torch.arange(nx, dtype=torch.float64, device=dev) * stride - off + (tile - 1) / 2).clamp(0, W - 1)
    poses = cmf_poses(cmf.to(torch.float64))  # (B, M+1, 2, h, w)
    m1 = poses.shape[1]
    at = interp_even_grid(poses.flatten(1, 2), cy, cx)  # (B, (M+1)*2, ny, nx)
    at = at.reshape(B, m1, 2, ny, nx).permute(0, 3, 4, 1, 2)  # (B, ny, nx, M+1, 2)
    r = psf_radius(at)
    mg = max(r, 16) if margin is None else max(int(margin), r)
    while not _fast_len(tile + 2 * mg):  # grow the context until the FFT size has only factors 2, 3, 5
        mg += 1
    te = tile + 2 * mg
    win = _window(tile, work, dev)
    win2 = (win[:, None] * win[None, :]).reshape(1, 1, 1, 1, tile, tile)
    out = torch.empty(B, C, H, W, dtype=blurred.dtype, device=dev)
    rout = torch.empty_like(out) if residual else None
    wsum = F.fold(
        win2[0, :1].expand(1, ny, nx, tile, tile).permute(0, 3, 4, 1, 2).reshape(1, tile * tile, -1),
        (hq, wq),
        kernel_size=tile,
        stride=stride,
    )

    def blend(ext: torch.Tensor) -> torch.Tensor:
        """Extended tiles ``(C, ny, nx, te, te)`` → the windowed blend ``(1, C, H, W)`` of their centres."""
        part = ext[..., mg : mg + tile, mg : mg + tile] * win2[0]  # (C, ny, nx, tile, tile)
        cols = part.permute(0, 3, 4, 1, 2).reshape(1, C * tile * tile, ny * nx)
        acc = F.fold(cols, (hq, wq), kernel_size=tile, stride=stride)
        return (acc / wsum)[:, :, off : off + H, off : off + W]

    accepted: list[torch.Tensor] = []  # check: per image, (ny, nx) tiles whose field passed
    for i in range(B):
        psf = trajectory_psf(at[i], samples_per_segment=samples_per_segment, radius=r)  # (ny, nx, S, S)
        psf = psf.to(work)
        otf = psf_otf(psf, (te, te))[None]  # (1, ny, nx, te, te//2+1)
        img = _pad(blurred[i : i + 1].to(work), off + mg, wq - W - off + mg, off + mg, hq - H - off + mg)
        raw = img.unfold(2, te, stride).unfold(3, te, stride)[0]  # (C, ny, nx, te, te)
        tiles = edge_taper(raw, otf, mg)
        if method == "wiener":
            est = wiener_fft(tiles, otf, lam, prior)
            if check:  # keep the deconvolution only where the field explains the tile better than no blur
                # both hypotheses in one call (one windowed FFT of the tiles): the field's kernel, then K̂ = 1
                evidence = field_log_evidence(raw[:, None], torch.stack([otf[0], torch.ones_like(otf[0])]))
                trust = evidence[0] > evidence[1]
                est = torch.where(trust[None, :, :, None, None], est, raw)
                accepted.append(trust)
        else:
            est = richardson_lucy_fft(tiles, otf, iterations, eps, tv)
        res = blend(est)
        out[i] = (res.clamp(0, 1) if clip else res)[0].to(blurred.dtype)
        if rout is not None:  # B − K ⊛ L̂ per (tapered) tile
            reblur = torch.fft.irfft2(otf * torch.fft.rfft2(est), s=(te, te))
            rout[i] = blend(tiles - reblur)[0].to(blurred.dtype)
    log.debug(
        "classical %s: %d images, %dx%d tiles of %d px (+%d margin), PSF radius %d%s",
        method,
        B,
        ny,
        nx,
        tile,
        mg,
        r,
        f", field accepted in {float(torch.stack(accepted).float().mean()):.0%} of tiles" if accepted else "",
    )
    return (out, rout) if rout is not None else out
