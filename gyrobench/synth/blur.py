"""Gyro blur rendering: warp the sharp frame along the camera trajectory and average in linear light.

Spec: ``gyrodeblurnet.md`` §1.1-§1.2 (1920x1080 frame, average of warps, centre crop 1280x720) and ``rsblur.md``
§3.2-§3.3 and D2/D3 (linear averaging, equal weights, >= 1 pose per pixel of motion, saturation masks).

Conventions:

- Pixel coordinates: x right, y down, pixel *centres* at integer coordinates, (0, 0) = centre of the top-left
  pixel of the full frame; ``crop = (x0, y0, w, h)`` selects columns x0..x0+w-1 and rows y0..y0+h-1.
- ``homs[b, k]`` maps anchor-frame coordinates to pose k (``p_k = dehom(H_k @ [x, y, 1])``), as returned by
  :func:`gyrobench.gyro.trajectory.pose_homographies`. Pose image: ``I_k(y) = I_anchor(H_k^-1 y)`` (the scene
  point seen at anchor pixel x appears at ``H_k x`` in pose k). Blurred image ``B = sum_k w_k I_k``.
- Resampling: bilinear ``torch.nn.functional.grid_sample`` with ``align_corners=True`` (normalised -1 / +1 =
  the centres of the first / last pixel, consistent with integer pixel centres). Only the source coordinates of
  the *cropped output* pixels are computed: every pose's grid is ``(h, w)``, never the full frame.
- Border policy: sources falling outside the frame are clamped to the nearest edge pixel
  (``padding_mode="border"``, replicate) and flagged: ``valid[b, 0, y, x] = 1`` only where the source of every
  pose lies inside ``[0, W-1] x [0, H-1]``. The default 1920x1080 -> 1280x720 crop leaves a 320 / 180 px margin,
  more than hand-shake blur needs, so ``valid`` is normally all ones.
- Sharp output = the anchor pose (identity homography), i.e. the crop of the unwarped input, pixel-exact.
- Images are linear light, float32 ``(B, 3, H, W)``; decode sRGB sources with
  :func:`gyrobench.color.srgb_to_linear` first (rsblur.md §3.1).
- Memory: poses are processed in chunks so that one chunk's grid + samples stay below ``max_chunk_bytes``;
  each chunk is ONE ``grid_sample`` call (the chunk's grids are stacked along the height axis).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from gyrobench.errors import ShapeError
from gyrobench.gyro.trajectory import pose_homographies
from gyrobench.log import get_logger

__all__ = [
    "render_blur",
    "saturation_mask",
    "max_step_px",
    "blur_homographies",
    "pose_path_length_px",
    "render_rolling_shutter",
]

log = get_logger("synth.blur")


def _check(sharp: torch.Tensor, homs, crop):
    if sharp.dim() != 4:
        raise ShapeError(f"render_blur: sharp must be (B,C,H,W), got {tuple(sharp.shape)}")
    B, _, H, W = sharp.shape
    homs = torch.as_tensor(homs)
    if homs.dim() == 3:
        homs = homs.expand(B, *homs.shape)
    if homs.dim() != 4 or homs.shape[0] != B or homs.shape[2:] != (3, 3):
        raise ShapeError(f"render_blur: homs must be (B,P,3,3) with B={B}, got {tuple(homs.shape)}")
    if crop is None:
        crop = (0, 0, W, H)
    x0, y0, w, h = (int(v) for v in crop)
    if x0 < 0 or y0 < 0 or w < 1 or h < 1 or x0 + w > W or y0 + h > H:
        raise ShapeError(f"render_blur: crop (x0={x0}, y0={y0}, w={w}, h={h}) does not fit the {W}x{H} frame")
    return homs, (x0, y0, w, h)


def _weights(weights, B, P, device):
    if weights is None:
        return torch.full((B, P), 1.0 / P, dtype=torch.float32, device=device)
    wt = torch.as_tensor(weights, dtype=torch.float64)
    if wt.dim() == 1:
        wt = wt.expand(B, P)
    if wt.shape != (B, P):
        raise ShapeError(f"render_blur: weights must be (P,) or (B,P) = ({B},{P}), got {tuple(wt.shape)}")
    s = wt.sum(dim=1, keepdim=True)
    if (s <= 0).any():
        raise ShapeError("render_blur: weights must have a positive sum per sample")
    return (wt / s).to(device=device, dtype=torch.float32)


def _source_grid(hinv: torch.Tensor, crop, frame_hw, device) -> torch.Tensor:
    """Normalised ``grid_sample`` grid (B, Pc, h, w, 2) of the crop pixels' sources, align_corners=True.

    The normalisation ``g = 2 s / (size - 1) - 1`` is folded into the homography rows, so the full-size work is
    three broadcast adds, one reciprocal and two multiplications per pose.
    """
    x0, y0, w, h = crop
    H, W = frame_hw
    m = hinv.to(device=device, dtype=torch.float32)  # (B, Pc, 3, 3)
    r0 = m[..., 0, :] * (2.0 / max(W - 1, 1)) - m[..., 2, :]
    r1 = m[..., 1, :] * (2.0 / max(H - 1, 1)) - m[..., 2, :]
    r2 = m[..., 2, :]
    xs = torch.arange(x0, x0 + w, device=device, dtype=torch.float32)
    ys = torch.arange(y0, y0 + h, device=device, dtype=torch.float32)

    def lin(r, out=None):  # r0 x + r1 y + r2 broadcast to (B, Pc, h, w)
        return torch.add(
            r[..., 0, None, None] * xs, r[..., 1, None, None] * ys[:, None] + r[..., 2, None, None], out=out
        )

    grid = torch.empty(*m.shape[:2], h, w, 2, device=device, dtype=torch.float32)
    inv = lin(r2).reciprocal_()  # one division, two multiplications
    lin(r0, out=grid[..., 0]).mul_(inv)
    lin(r1, out=grid[..., 1]).mul_(inv)
    return grid


def _corner_sources(hinv: torch.Tensor, crop) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources (B, P, 4, 2) of the crop's corner pixel centres and their denominators (B, P, 4), float64."""
    x0, y0, w, h = crop
    c = torch.tensor(
        [[x0, y0, 1], [x0 + w - 1, y0, 1], [x0, y0 + h - 1, 1], [x0 + w - 1, y0 + h - 1, 1]],
        dtype=torch.float64,
    )
    q = torch.einsum("bpij,kj->bpki", hinv.to(torch.float64).cpu(), c)
    return q[..., :2] / q[..., 2:], q[..., 2]


def _all_inside(hinv: torch.Tensor, crop, frame_hw, tol: float = 1e-3) -> bool:
    """True when every pose maps the whole crop inside the frame. A homography with a positive denominator
    maps the crop rectangle onto the convex quadrilateral of its corners' sources, so checking the 4 corners
    is exact."""
    H, W = frame_hw
    src, den = _corner_sources(hinv, crop)
    ok = (den > 0).all() & (src[..., 0] >= -tol).all() & (src[..., 0] <= W - 1 + tol).all()
    ok = ok & (src[..., 1] >= -tol).all() & (src[..., 1] <= H - 1 + tol).all()
    return bool(ok)


def render_blur(
    sharp_linear: torch.Tensor,
    homs,
    *,
    crop=None,
    weights=None,
    sat_threshold: float | None = None,
    sat_any_channel: bool = False,
    padding_mode: str = "border",
    max_chunk_bytes: int = 256 * 2**20,
    sat_split: bool = True,
) -> dict[str, torch.Tensor]:
    """Average the sharp frame warped to every pose, cropped (rsblur.md §3.2, D2; gyrodeblurnet.md §1.2).

    Args:
        sharp_linear: (B, 3, H, W) float linear-light full frame (any device).
        homs: (B, P, 3, 3) or (P, 3, 3) anchor->pose homographies in full-frame pixels (numpy or torch).
        crop: (x0, y0, w, h) output region in full-frame pixels (default: the whole frame).
        weights: (P,) or (B, P) temporal weights (normalised here); default equal weights 1/P.
        sat_threshold: if given, also render the saturation mask (rsblur.md §3.3, D3): per channel
            ``[S >= sat_threshold]`` of the *sharp* frame (1.0 = white; the same in sRGB and linear), warped and
            averaged with the same poses and weights in the same ``grid_sample`` call.
        sat_any_channel: D3 option: a pixel counts as saturated in all channels if any channel is.
        padding_mode: grid_sample padding for out-of-frame sources ("border" = replicate, "zeros", "reflection").
        max_chunk_bytes: memory bound for one chunk of poses (grid + samples).
        sat_split: warp the saturation mask separately over the part of the crop its saturated pixels can reach
            when that part is under half the crop (same result, less work for sparse highlights).
    Returns:
        dict with ``blurred`` (B,3,h,w) float32, ``sharp`` (B,3,h,w) (the anchor crop), ``valid`` (B,1,h,w) float32
        (1 where every pose's source is inside the frame) and, with ``sat_threshold``, ``sat_mask`` (B,3,h,w) in
        [0, 1].
    """
    homs, crop = _check(sharp_linear, homs, crop)
    x0, y0, w, h = crop
    B, C, H, W = sharp_linear.shape
    P = homs.shape[1]
    dev = sharp_linear.device
    src = sharp_linear.float()
    sat_zero, sat_sub = False, None
    if sat_threshold is not None:
        m0 = (src[:, :3] >= float(sat_threshold) - 1e-6).float()
        if sat_any_channel:
            m0 = m0.amax(dim=1, keepdim=True).expand_as(m0)
        sat_zero = not bool(m0.any())  # nothing saturated: the mask is zero, skip warping it
        if not sat_zero:
            sat_sub = _mask_region(m0, homs, crop, (H, W)) if sat_split else None
            if sat_sub is None:  # saturated pixels spread widely: warp the mask with the image (6 channels)
                src = torch.cat([src, m0], dim=1)
    Ct = src.shape[1]
    wts = _weights(weights, B, P, dev)
    hinv = torch.linalg.inv(homs.to(torch.float64))  # (B, P, 3, 3) pose -> anchor
    check_valid = not _all_inside(hinv, crop, (H, W))
    per_pose = B * h * w * 4 * (2 + Ct)
    chunk = max(1, min(P, int(max_chunk_bytes // max(per_pose, 1))))
    acc = torch.zeros(B, Ct, h * w, dtype=torch.float32, device=dev)
    valid = torch.ones(B, 1, h, w, dtype=torch.bool, device=dev)
    lim = 1.0 + 2e-3 / max(H, W)
    for s in range(0, P, chunk):
        e = min(P, s + chunk)
        pc = e - s
        grid = _source_grid(hinv[:, s:e], crop, (H, W), dev)  # (B, Pc, h, w, 2)
        out = F.grid_sample(
            src, grid.view(B, pc * h, w, 2), mode="bilinear", padding_mode=padding_mode, align_corners=True
        )  # (B, Ct, Pc*h, w)
        # weighted sum over the chunk's poses as one batched GEMV: (B,1,1,Pc) @ (B,Ct,Pc,h*w)
        acc += torch.matmul(wts[:, None, None, s:e], out.view(B, Ct, pc, h * w))[:, :, 0]
        if check_valid:
            a = grid.abs().amax(dim=1)  # (B, h, w, 2)
            valid &= (a <= lim).all(dim=-1)[:, None]
    acc = acc.view(B, Ct, h, w)
    res = {
        "blurred": acc[:, :3],
        "sharp": sharp_linear[:, :3, y0 : y0 + h, x0 : x0 + w].float(),
        "valid": valid.float(),
    }
    if sat_threshold is not None:
        if sat_zero:
            res["sat_mask"] = torch.zeros_like(acc[:, :3])
        elif sat_sub is not None:  # only the output region the saturated pixels can reach
            sx0, sy0, sw, sh = sat_sub
            mask = torch.zeros_like(acc[:, :3])
            part = render_blur(
                m0,
                homs,
                crop=sat_sub,
                weights=weights,
                padding_mode=padding_mode,
                max_chunk_bytes=max_chunk_bytes,
            )["blurred"]
            mask[:, :, sy0 - y0 : sy0 - y0 + sh, sx0 - x0 : sx0 - x0 + sw] = part
            res["sat_mask"] = mask.clamp(0.0, 1.0)
        else:
            res["sat_mask"] = acc[:, 3:6].clamp(0.0, 1.0)
    log.debug("render_blur: B=%d P=%d crop=%s chunk=%d", B, P, crop, chunk)
    return res


def _mask_region(m0: torch.Tensor, homs: torch.Tensor, crop, frame_hw, max_fraction: float = 0.5):
    """Sub-crop ``(x0, y0, w, h)`` of ``crop`` outside which the warped mask is exactly zero, or None when it is
    not worth splitting (region > ``max_fraction`` of the crop, saturated pixels on the frame border where the
    replicate padding spreads them, or a pose with a non-positive denominator).

    Output pixel y samples ``H_k^-1 y``; bilinear taps reach 1 px, so y can be non-zero only inside
    ``H_k(bbox grown by 1 px)``, whose bounding rectangle is that of the 4 mapped corners (convex image).
    """
    H, W = frame_hw
    x0, y0, w, h = crop
    hit = m0.amax(dim=(0, 1))  # (H, W)
    rows = torch.nonzero(hit.amax(dim=1) > 0).flatten()
    cols = torch.nonzero(hit.amax(dim=0) > 0).flatten()
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    if r0 <= 1 or c0 <= 1 or r1 >= H - 2 or c1 >= W - 2:
        return None
    corners = torch.tensor(
        [[c0 - 1, r0 - 1, 1], [c1 + 1, r0 - 1, 1], [c0 - 1, r1 + 1, 1], [c1 + 1, r1 + 1, 1]],
        dtype=torch.float64,
    )
    q = torch.einsum("bpij,kj->bpki", homs.to(torch.float64).cpu(), corners)
    if not bool((q[..., 2] > 0).all()):
        return None
    p = q[..., :2] / q[..., 2:]
    ax0 = max(x0, int(math.floor(float(p[..., 0].min()))) - 1)
    ay0 = max(y0, int(math.floor(float(p[..., 1].min()))) - 1)
    ax1 = min(x0 + w - 1, int(math.ceil(float(p[..., 0].max()))) + 1)
    ay1 = min(y0 + h - 1, int(math.ceil(float(p[..., 1].max()))) + 1)
    if ax1 < ax0 or ay1 < ay0:
        return (x0, y0, 1, 1)  # nothing reaches the crop: a 1-px region that renders zero
    sub = (ax0, ay0, ax1 - ax0 + 1, ay1 - ay0 + 1)
    return sub if sub[2] * sub[3] <= max_fraction * w * h else None


def saturation_mask(
    sharp: torch.Tensor, homs, *, crop=None, weights=None, threshold: float = 1.0, any_channel: bool = False
) -> torch.Tensor:
    """Saturation mask alone (rsblur.md §3.3, D3): ``M = sum_k w_k warp_k([S >= threshold])`` -> (B,3,h,w).

    ``sharp``: (B,3,H,W) sharp frame (sRGB-encoded or linear: the 1.0 threshold is the same), values in [0, 1].
    To store it like RSBlur (8-bit), use ``round(255 * M)``.
    """
    m0 = (sharp[:, :3].float() >= float(threshold) - 1e-6).float()
    if any_channel:
        m0 = m0.amax(dim=1, keepdim=True).expand_as(m0).contiguous()
    return render_blur(m0, homs, crop=crop, weights=weights)["blurred"].clamp(0.0, 1.0)


def _project(homs: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = homs @ pts
    return q[..., :2, :] / q[..., 2:, :]


def max_step_px(homs, frame_hw: tuple[int, int], grid: int = 5) -> float:
    """Largest displacement (px) of any of ``grid x grid`` frame points (corners included) between consecutive
    poses of ``homs`` (..., P, 3, 3): the D2 "at most 1 px between warps" criterion."""
    H, W = frame_hw
    gx, gy = np.meshgrid(np.linspace(0, W - 1, grid), np.linspace(0, H - 1, grid))
    pts = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    p = _project(np.asarray(homs, dtype=np.float64), pts)
    return float(np.linalg.norm(np.diff(p, axis=-3), axis=-2).max())


def pose_path_length_px(homs, point_xy: tuple[float, float]) -> float:
    """Path length in pixels of the image point ``point_xy`` (anchor frame) along ALL the blur poses ``homs``
    (P, 3, 3): the sum of the displacements between consecutive poses. Stored per sample as ``blur_extent_px``.
    (:func:`gyrobench.evaluate.outputs.field_path_length_px` measures the same path with the motion field's M
    chords, a slightly shorter, coarser figure.)"""
    pts = np.array([[point_xy[0]], [point_xy[1]], [1.0]])
    p = _project(np.asarray(homs, dtype=np.float64), pts)[..., 0]  # (P, 2)
    return float(np.linalg.norm(np.diff(p, axis=0), axis=-1).sum())


def blur_homographies(
    t_ns,
    w,
    K,
    frame_hw: tuple[int, int],
    *,
    max_step: float = 1.0,
    min_substeps: int = 8,
    max_substeps: int = 256,
    **kw,
):
    """Poses for one blur: adaptive sub-step count (rsblur.md D2), then the anchor->pose homographies.

    The sub-step count per raw interval starts at ``min_substeps`` and grows until no point of a 5x5 grid over the
    frame (corners included) moves more than ``max_step`` px between consecutive poses (:func:`max_step_px`).
    With :func:`~gyrobench.gyro.trajectory.pose_homographies`' default ``scheme="cmf"`` the count is kept a
    multiple of ``M / gcd(n_intervals, M)`` (4 for 10 intervals and M = 8) so that the motion field's poses stay an
    exact subset of the blur poses. ``kw`` (``anchor``, ``rotation``, ``interp``, ``n_intervals``, ``scheme``,
    ``M``) passes through. Returns ``(H (P,3,3) float64, tau_s (P,), substeps)``.
    """
    n = int(kw.get("n_intervals") or (np.asarray(t_ns).shape[-1] - 1))
    big_m = int(kw.get("M", 8))
    mult = big_m // math.gcd(n, big_m) if kw.get("scheme", "cmf") == "cmf" else 1

    def up(v):
        return int(math.ceil(v / mult) * mult)

    s = up(max(1, min_substeps))
    while True:
        H, tau = pose_homographies(t_ns, w, K, substeps=s, **kw)
        step = max_step_px(H, frame_hw)
        if step <= max_step:
            return H, tau, s
        if s >= max_substeps:
            log.warning(
                "blur_homographies: stopped at %d sub-steps per interval: %.2f px between poses > %.2f px",
                s,
                step,
                max_step,
            )
            return H, tau, s
        s = min(up(max_substeps), max(up(s + 1), up(s * step / max_step)))


def poses_needed(extent_px: float, max_step: float = 1.0) -> int:
    """Minimum pose count for a straight blur of ``extent_px`` with steps of at most ``max_step`` px."""
    return int(math.ceil(extent_px / max_step)) + 1


def render_rolling_shutter(sharp_linear: torch.Tensor, rec, exposure_start_ns: int, exposure_ns: int, K, *,
                           readout_time_s: float = 0.0, crop=None, frame_height: int | None = None,
                           samples: int = 11, band_rows: int = 8, max_step: float = 1.0, **kw):
    """Blur of a (rolling-shutter) exposure from a gyro recording: each band of ``band_rows`` output rows is
    rendered with the poses of its own exposure window (the band's first row, see
    :mod:`gyrobench.gyro.rolling_shutter`), anchored at that window's mid-exposure.

    ``sharp_linear`` (1, 3, H, W) linear full frame; ``rec`` a :class:`~gyrobench.gyro.recording.GyroRecording`
    on the photo clock; ``K`` the full frame's intrinsics; ``crop`` (x0, y0, w, h), default the whole frame.
    With ``readout_time_s = 0`` every row shares one window and the result is exactly the global-shutter
    rendering ``render_blur(sharp, blur_homographies(window)[0], crop=crop)`` (one band, the same call).
    Returns :func:`render_blur`'s dict (``blurred``, ``sharp``, ``valid``).
    """
    from gyrobench.gyro.rolling_shutter import band_windows

    B, _, H, W = sharp_linear.shape
    if B != 1:
        raise ShapeError(f"render_rolling_shutter: one frame at a time, got a batch of {B}")
    x0, y0, w, h = (0, 0, W, H) if crop is None else (int(v) for v in crop)
    bands, t, wc = band_windows(rec, exposure_start_ns, exposure_ns, (x0, y0, w, h), readout_time_s=readout_time_s,
                                frame_height=int(frame_height or H), samples=samples, band_rows=band_rows)
    parts = []
    for (by, bh), tb, wb in zip(bands, t, wc):
        homs, _, _ = blur_homographies(tb, wb, K, (H, W), max_step=max_step, **kw)
        parts.append(render_blur(sharp_linear, homs, crop=(x0, by, w, bh)))
    if len(parts) == 1:
        return parts[0]
    return {k: torch.cat([p[k] for p in parts], dim=2) for k in ("blurred", "sharp", "valid")}
