"""CPU blur renderer near the OpenCV floor: one ``cv2.warpPerspective`` per pose, crop-only, float32 sums.

Same result and conventions as :func:`gyrobench.synth.blur.render_blur` (agreement <= 1e-4 in linear light,
typically ~3e-6; tests/test_render_cpu.py), at the cost of a plain OpenCV warp loop (issue 11):

- ``homs[k]`` maps anchor-frame pixels to pose k; pose image ``I_k(y) = I(H_k^-1 y)``; blurred
  ``B = sum_k w_k I_k`` (weights normalised, default 1/P), linear light (rsblur.md §3.2, D2).
- Only the crop is computed: OpenCV is given ``M_k = H_k^-1 T(x0, y0)`` with ``WARP_INVERSE_MAP`` (output pixel
  ``(u, v)`` of the crop samples the frame at ``M_k [u, v, 1]``), so every warp writes ``w x h`` pixels.
  All channels in one call (interleaved HWC); bilinear; ``BORDER_REPLICATE`` (equal to grid_sample's border
  clamping for bilinear taps). Warps go into one reused buffer and are summed in float32.
- ``valid`` (h, w) bool: every pose's source lies in ``[0, W-1] x [0, H-1]`` (1e-3 px tolerance). Computed
  exactly without per-pixel work: with a positive denominator each bound is a half-plane in crop pixels, so
  each row's valid pixels are one interval (intersection over poses and the 4 frame edges).
- Saturation mask (rsblur.md §3.3, D3): ``[S >= threshold - 1e-6]`` per channel of the sharp frame, warped and
  averaged with the same poses and weights. Work is spent only where the mask can be non-zero: the crop is cut
  into tiles, a tile is warped only if the sources of its pixels (the bounding box of its corners' sources over
  all poses, grown 1 px for the bilinear taps) contain a saturated pixel (integral-image count). One channel is
  warped when the mask is the same in R, G and B, three otherwise.

Arrays: ``frame`` (H, W, C) float32 HWC linear (C = 3 usually); returns numpy arrays (HWC). Threads: OpenCV's
own pool (``threads`` sets ``cv2.setNumThreads`` for the call; results do not depend on it).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from gyrobench.errors import ShapeError

__all__ = ["render_blur_cpu", "valid_mask", "warp_average", "cv_threads", "RENDERER_NAME"]

#: name recorded in manifests/shards for this renderer
RENDERER_NAME = "opencv-warpPerspective"

_TOL = 1e-3  # px: source coordinates this far outside the frame still count as inside (as render_blur)


@contextlib.contextmanager
def cv_threads(n: int | None):
    """Run the block with ``cv2.setNumThreads(n)`` (restored afterwards); ``None`` leaves OpenCV's setting."""
    import cv2

    if n is None:
        yield
        return
    old = cv2.getNumThreads()
    cv2.setNumThreads(int(n))
    try:
        yield
    finally:
        cv2.setNumThreads(old)


def _norm_weights(weights, P: int) -> np.ndarray | None:
    """Normalised float64 weights, or None for equal weights (summed, then scaled once)."""
    if weights is None:
        return None
    wt = np.asarray(weights, dtype=np.float64).reshape(-1)
    if wt.shape != (P,):
        raise ShapeError(f"render_blur_cpu: weights must be ({P},), got {wt.shape}")
    s = wt.sum()
    if not s > 0:
        raise ShapeError("render_blur_cpu: weights must have a positive sum")
    return wt / s


def _offset(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def warp_average(src: np.ndarray, hinv: np.ndarray, region, weights: np.ndarray | None = None) -> np.ndarray:
    """``sum_k w_k src(hinv_k [x, y, 1])`` over the output pixels of ``region = (x0, y0, w, h)`` (full-frame
    pixel coordinates), bilinear, replicated border, summed in float32.

    ``src`` (H, W) or (H, W, C), float32 (values as they are) or uint16 (read as value / 65535; each warp is
    then rounded by OpenCV to 1/65535, <= 7.6e-6, and runs ~25 % faster); ``hinv`` (P, 3, 3) pose -> anchor;
    ``weights`` normalised (P,) or None (= 1/P). Returns float32 (h, w[, C])."""
    import cv2

    x0, y0, w, h = (int(v) for v in region)
    P = hinv.shape[0]
    shape = (h, w) + src.shape[2:]
    scale = 1.0 / 65535.0 if src.dtype == np.uint16 else 1.0
    if src.dtype not in (np.uint16, np.float32):
        raise ShapeError(f"warp_average: src must be float32 or uint16, got {src.dtype}")
    acc = np.zeros(shape, dtype=np.float32)
    tmp = np.empty(shape, dtype=src.dtype)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    mats = hinv @ _offset(x0, y0)
    for k in range(P):
        cv2.warpPerspective(src, mats[k], (w, h), dst=tmp, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        if weights is None:
            cv2.add(acc, tmp, dst=acc, dtype=cv2.CV_32F)
        else:
            cv2.addWeighted(acc, 1.0, tmp, float(weights[k]) * scale, 0.0, dst=acc, dtype=cv2.CV_32F)
    if weights is None:
        np.multiply(acc, np.float32(scale / P), out=acc)  # one rounding; render_blur scales each pose
    return acc


def valid_mask(hinv: np.ndarray, crop, frame_hw: tuple[int, int], tol: float = _TOL) -> np.ndarray:
    """(h, w) bool: 1 where every pose's source of the crop pixel lies inside the frame (see module).

    For pose k, the source is ``(a . p / c . p, b . p / c . p)`` with ``p = (x, y, 1)``; the conditions
    ``c . p > 0``, ``-tol <= x_src <= W - 1 + tol`` and the same for y are linear in ``p`` once multiplied by
    ``c . p``: ``A x + B y + C >= 0``. Per row y each gives a bound on x, so the valid set of a row is an
    interval, computed in float64 for all poses at once.
    """
    H, W = frame_hw
    x0, y0, w, h = (int(v) for v in crop)
    m = np.asarray(hinv, dtype=np.float64)
    a, b, c = m[:, 0, :], m[:, 1, :], m[:, 2, :]
    lin = np.concatenate([
        a + tol * c,  # x_src >= -tol
        (W - 1 + tol) * c - a,  # x_src <= W-1+tol
        b + tol * c,  # y_src >= -tol
        (H - 1 + tol) * c - b,  # y_src <= H-1+tol
    ])  # (4P, 3): coefficients (A, B, C) of A x + B y + C >= 0 in frame pixels
    ys = np.arange(y0, y0 + h, dtype=np.float64)
    xs = np.arange(x0, x0 + w, dtype=np.float64)
    A = lin[:, 0]
    rest = lin[:, 1:2] * ys[None] + lin[:, 2:3]  # (4P, h)
    lo, hi = np.full(h, -np.inf), np.full(h, np.inf)
    ok = np.ones(h, dtype=bool)
    pos, neg, zero = A > 0, A < 0, A == 0
    if pos.any():
        lo = np.maximum(lo, (-rest[pos] / A[pos, None]).max(axis=0))
    if neg.any():
        hi = np.minimum(hi, (-rest[neg] / A[neg, None]).min(axis=0))
    if zero.any():
        ok &= (rest[zero] >= 0).all(axis=0)
    out = (xs[None] >= lo[:, None]) & (xs[None] <= hi[:, None]) & ok[:, None]
    # the products above are equivalent to the bounds only where c . p > 0; c . p is linear, so its minimum
    # over the crop is at a corner: only when a corner fails is the strict test done per pixel
    den_min = min(float((c[:, 0] * xx + c[:, 1] * yy + c[:, 2]).min()) for xx in (x0, x0 + w - 1)
                  for yy in (y0, y0 + h - 1))
    if not den_min > 0:
        den = c[:, 0, None, None] * xs[None, None] + c[:, 1, None, None] * ys[None, :, None] + c[:, 2, None, None]
        out &= (den > 0).all(axis=0)
    return out


def _corner_sources(hinv: np.ndarray, rects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sources of the 4 corners of each rect (R, 4) = (x0, y0, x1, y1) inclusive under every pose:
    (R, P, 4, 2) and the denominators (R, P, 4)."""
    xs = np.stack([rects[:, 0], rects[:, 2], rects[:, 0], rects[:, 2]], 1)
    ys = np.stack([rects[:, 1], rects[:, 1], rects[:, 3], rects[:, 3]], 1)
    pts = np.stack([xs, ys, np.ones_like(xs)], -1).astype(np.float64)  # (R, 4, 3)
    q = np.einsum("pij,rkj->rpki", hinv, pts)
    return q[..., :2] / q[..., 2:], q[..., 2]


def _mask_tiles(m0: np.ndarray, hinv: np.ndarray, crop, tile: tuple[int, int]) -> list[tuple[tuple, bool]]:
    """Work list ``[((x0, y0, w, h), per_channel), ...]`` (full-frame pixels) covering every crop pixel whose
    warped mask can be non-zero. A tile is hit when the bounding box of its pixels' sources (its corners' sources
    over all poses, +1 px for the bilinear taps, clamped to the frame: the replicated border reads edge pixels)
    holds a saturated pixel; ``per_channel`` is False when R, G and B agree there (one channel is warped).
    Consecutive hit tiles of one tile row with the same mode are merged. A pose whose denominator is <= 0 at a
    tile corner makes the whole crop one per-channel rectangle."""
    import cv2

    H, W = m0.shape[:2]
    x0, y0, w, h = crop
    tw, th = tile
    nx, ny = math.ceil(w / tw), math.ceil(h / th)
    gx = x0 + np.arange(nx) * tw
    gy = y0 + np.arange(ny) * th
    rx0, ry0 = np.meshgrid(gx, gy)
    rects = np.stack([rx0, ry0, np.minimum(rx0 + tw, x0 + w) - 1, np.minimum(ry0 + th, y0 + h) - 1], -1)
    rects = rects.reshape(-1, 4).astype(np.float64)
    src, den = _corner_sources(hinv, rects)
    if not (den > 0).all():
        return [(crop, True)]
    bx0 = np.clip(np.floor(src[..., 0].min(axis=(1, 2))) - 1, 0, W - 1).astype(np.int64)
    bx1 = np.clip(np.ceil(src[..., 0].max(axis=(1, 2))) + 1, 0, W - 1).astype(np.int64) + 1
    by0 = np.clip(np.floor(src[..., 1].min(axis=(1, 2))) - 1, 0, H - 1).astype(np.int64)
    by1 = np.clip(np.ceil(src[..., 1].max(axis=(1, 2))) + 1, 0, H - 1).astype(np.int64) + 1

    def count(mask):
        ii = cv2.integral(mask.astype(np.uint8), sdepth=cv2.CV_32S)  # (H+1, W+1)
        return (ii[by1, bx1] - ii[by0, bx1] - ii[by1, bx0] + ii[by0, bx0]).reshape(ny, nx)

    r, g, b = m0[..., 0], m0[..., 1], m0[..., 2]  # (numpy's any/all over a 3-long axis are ~20x slower)
    m_any = r | g | b
    hit = count(m_any) > 0
    mixed = count(m_any & ~(r & g & b)) > 0  # some channels saturated, others not
    out = []
    for j in range(ny):
        i = 0
        while i < nx:
            if not hit[j, i]:
                i += 1
                continue
            k = i
            while k + 1 < nx and hit[j, k + 1] and mixed[j, k + 1] == mixed[j, i]:
                k += 1
            rx, ry = int(gx[i]), int(gy[j])
            out.append(((rx, ry, min(int(gx[k]) + tw, x0 + w) - rx, min(ry + th, y0 + h) - ry), bool(mixed[j, i])))
            i = k + 1
    return out


def render_blur_cpu(
    frame: np.ndarray,
    homs,
    *,
    crop=None,
    weights=None,
    sat_threshold: float | None = None,
    sat_any_channel: bool = False,
    precision: str = "uint16",
    threads: int | None = None,
    tile: tuple[int, int] = (64, 36),
) -> dict[str, np.ndarray]:
    """Average the frame warped to every pose over the crop (see module; same maths as ``render_blur``).

    Args:
        frame: (H, W, C) linear-light full frame, HWC: float in [0, 1], or uint16 read as value / 65535.
        homs: (P, 3, 3) anchor->pose homographies in full-frame pixels.
        crop: (x0, y0, w, h) output region (default the whole frame).
        weights: (P,) temporal weights (normalised here); default 1/P each.
        sat_threshold: also render the saturation mask of ``[frame >= sat_threshold - 1e-6]`` (first 3 channels,
            on the frame as given: a uint16 frame is compared as value / 65535).
        sat_any_channel: D3 option: a pixel saturated in any channel counts in all three.
        precision: ``"uint16"`` (default): warps run on the frame rounded to 1/65535 and are rounded to 1/65535
            each (error <= 1.6e-5, ~6e-6 typical, below the 12/16-bit storage step), ~25 % faster than
            ``"float32"`` (warps in float32: agreement with ``render_blur`` ~3e-6).
        threads: OpenCV threads for the call (None: OpenCV's current setting).
        tile: (w, h) tile size of the saturation-mask work split.
    Returns:
        dict of numpy arrays: ``blurred`` (h, w, C) float32, ``sharp`` (h, w, C) float32 (the anchor crop of the
        frame as given), ``valid`` (h, w) bool and, with ``sat_threshold``, ``sat_mask`` (h, w, 3) float32 in
        [0, 1].
    """
    frame = np.asarray(frame)
    if frame.ndim != 3:
        raise ShapeError(f"render_blur_cpu: frame must be (H, W, C) HWC, got shape {frame.shape}")
    if precision not in ("uint16", "float32"):
        raise ShapeError(f"render_blur_cpu: precision must be 'uint16' or 'float32', got {precision!r}")
    if frame.dtype == np.uint16:
        f32 = None
        src = np.ascontiguousarray(frame) if precision == "uint16" else frame.astype(np.float32) / np.float32(65535)
    else:
        f32 = np.ascontiguousarray(frame, dtype=np.float32)
        src = f32 if precision == "float32" else _quantize16(f32)
    H, W = src.shape[:2]
    homs = np.asarray(homs, dtype=np.float64)
    if homs.ndim != 3 or homs.shape[1:] != (3, 3) or homs.shape[0] < 1:
        raise ShapeError(f"render_blur_cpu: homs must be (P, 3, 3), got {homs.shape}")
    if crop is None:
        crop = (0, 0, W, H)
    x0, y0, w, h = (int(v) for v in crop)
    if x0 < 0 or y0 < 0 or w < 1 or h < 1 or x0 + w > W or y0 + h > H:
        raise ShapeError(f"render_blur_cpu: crop (x0={x0}, y0={y0}, w={w}, h={h}) does not fit the {W}x{H} frame")
    crop = (x0, y0, w, h)
    P = homs.shape[0]
    wts = _norm_weights(weights, P)
    if wts is not None and np.allclose(wts, 1.0 / P, rtol=0, atol=1e-15):
        wts = None
    hinv = np.linalg.inv(homs)
    if f32 is not None:
        sharp = f32[y0:y0 + h, x0:x0 + w].copy()
    else:
        sharp = frame[y0:y0 + h, x0:x0 + w].astype(np.float32) * np.float32(1 / 65535)
    with cv_threads(threads):
        res = {"blurred": warp_average(src, hinv, crop, wts), "sharp": sharp, "valid": valid_mask(hinv, crop, (H, W))}
        if sat_threshold is not None:
            m0 = _saturated(frame if f32 is None else f32, float(sat_threshold), sat_any_channel)
            res["sat_mask"] = _sat_mask(m0, hinv, crop, wts, precision, tile)
    return res


def _quantize16(x: np.ndarray) -> np.ndarray:
    """float32 [0, 1] -> uint16 ``round(65535 x)`` (half to even), clipped."""
    y = np.multiply(x, np.float32(65535.0))
    np.clip(y, 0.0, 65535.0, out=y)
    np.rint(y, out=y)
    return y.astype(np.uint16)


def _saturated(frame: np.ndarray, threshold: float, any_channel: bool) -> np.ndarray:
    """(H, W, 3) bool ``[frame >= threshold - 1e-6]`` (uint16 frames compared as value / 65535)."""
    if frame.dtype == np.uint16:
        m0 = frame[..., :3] >= np.uint16(min(65535, max(0, math.ceil((threshold - 1e-6) * 65535 - 1e-9))))
    else:
        m0 = frame[..., :3] >= np.float32(threshold - 1e-6)
    if any_channel:
        m0 = np.repeat((m0[..., 0] | m0[..., 1] | m0[..., 2])[..., None], 3, axis=2)
    return m0


def _sat_mask(m0, hinv, crop, wts, precision, tile) -> np.ndarray:
    x0, y0, w, h = crop
    out = np.zeros((h, w, 3), dtype=np.float32)
    if not m0.any():
        return out
    dt, one = (np.uint16, 65535) if precision == "uint16" else (np.float32, 1)
    m3 = m0.astype(dt) * dt(one)
    m1 = (m0[..., 0] | m0[..., 1] | m0[..., 2]).astype(dt) * dt(one)
    for (rx, ry, rw, rh), per_channel in _mask_tiles(m0, hinv, crop, tile):
        part = warp_average(m3 if per_channel else m1, hinv, (rx, ry, rw, rh), wts)
        out[ry - y0:ry - y0 + rh, rx - x0:rx - x0 + rw] = part.reshape(rh, rw, -1)
    return np.clip(out, 0.0, 1.0, out=out)
