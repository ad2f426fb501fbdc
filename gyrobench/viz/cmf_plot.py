"""Pictures of camera motion fields (spec ``gyrodeblurnet.md`` §3.1; docs/conventions.md §1).

Conventions
-----------
- A field ``cmf_hwc`` is (h, w, 2M) float (HWC, as stored by the official generator), sampled every ``stride``
  full-resolution pixels (default 2, so h = H/2, w = W/2). Channel pair m = (dx, dy) of segment m,
  ``p_{m+1} - p_m``, in **full-resolution pixels** (x right, y down), forward time order.
- Trajectory glyphs: for a grid point x, the positions ``p_0 .. p_M`` are rebuilt by chaining the segments and
  anchoring the mid pose ``p_{M/2}`` at x (the field's anchor, spec §3.1 step 3). Colour runs from blue (start of
  the exposure) to red (end); a white dot marks the anchor.
- Pictures are 8-bit **sRGB** RGB, (H, W, 3) uint8, H = stride * h, W = stride * w (the image's size).
  Float images passed as backgrounds are taken as display-encoded [0, 1] unless ``linear=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..color import linear_to_srgb
from ..errors import ImageError, ShapeError

_SHIFT = 4  # cv2 sub-pixel bits for anti-aliased drawing


def _check_cmf(cmf_hwc) -> np.ndarray:
    a = np.asarray(cmf_hwc, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] % 2 or a.shape[2] < 2:
        raise ShapeError(
            f"cmf: expected (h, w, 2M) HWC with an even channel count, got shape {a.shape}; "
            "transpose a (2M, h, w) CHW field with .transpose(1, 2, 0)"
        )
    if not np.all(np.isfinite(a)):
        raise ShapeError("cmf: contains NaN or inf values")
    return a


def trajectories(cmf_hwc, anchor: int | None = None) -> np.ndarray:
    """(h, w, M+1, 2) positions p_k - x of every grid point's trajectory, px, anchored so that p_anchor = x.

    ``anchor`` defaults to M // 2 (mid exposure, the official anchor).
    """
    a = _check_cmf(cmf_hwc)
    h, w, c = a.shape
    M = c // 2
    seg = a.reshape(h, w, M, 2)
    cum = np.concatenate([np.zeros((h, w, 1, 2)), np.cumsum(seg, axis=2)], axis=2)  # p_k - p_0
    k = M // 2 if anchor is None else int(anchor)
    return cum - cum[:, :, k : k + 1, :]


def _background(image, H: int, W: int, linear: bool) -> np.ndarray:
    if image is None:
        return np.full((H, W, 3), 40, dtype=np.uint8)
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ShapeError(f"image: expected (H, W, 3) RGB, got shape {img.shape}")
    img = img[..., :3]
    if img.dtype != np.uint8:
        x = np.clip(img.astype(np.float64), 0.0, 1.0)
        if linear:
            x = linear_to_srgb(x)
        img = np.round(x * 255.0).astype(np.uint8)
    if img.shape[:2] != (H, W):
        import cv2

        img = cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)
    # dim the photo so that glyphs stand out
    return (img.astype(np.uint16) * 3 // 5 + 20).astype(np.uint8)


def render_cmf(
    cmf_hwc,
    image=None,
    *,
    step: int | None = None,
    scale: float = 1.0,
    stride: int = 2,
    thickness: int = 1,
    linear: bool = False,
    min_length_px: float = 0.05,
) -> np.ndarray:
    """Trajectory glyphs of a motion field on a coarse grid, drawn over ``image`` (or a dark grey background).

    Args:
        cmf_hwc: (h, w, 2M) field (module conventions).
        image: optional (H, W, 3) RGB background, uint8 sRGB or float [0, 1] (resized to stride*h x stride*w).
        step: glyph spacing in full-resolution px (default: about 1/14 of the shorter side, at least 16, widened
            up to 1/3 of the side so that the 90th-percentile glyph (times ``scale``) fits between neighbours).
        scale: magnification of the displacements (1 = true pixel size).
        stride: grid stride of the field in px (2 for GyroDeblurNet fields).
        linear: the float ``image`` is linear light; encode it to sRGB for display.
        min_length_px: glyphs whose trajectory is shorter than this (true px) are skipped (no motion there).
    Returns:
        (stride*h, stride*w, 3) uint8 sRGB RGB picture.
    """
    import cv2

    a = _check_cmf(cmf_hwc)
    h, w = a.shape[:2]
    H, W = h * stride, w * stride
    canvas = np.ascontiguousarray(_background(image, H, W, linear))
    if step is None:
        tr_s = trajectories(a[::4, ::4])  # glyph sizes from a subsample of the field
        span = np.linalg.norm(tr_s.max(axis=2) - tr_s.min(axis=2), axis=-1)  # px
        step = max(16, min(H, W) // 14, int(np.ceil(1.1 * scale * np.percentile(span, 90))))
        step = min(step, max(16, min(H, W) // 3))
    step = max(int(step), stride)
    gs = max(step // stride, 1)  # grid step in field cells
    ii = np.arange(gs // 2, h, gs)
    jj = np.arange(gs // 2, w, gs)
    sel = trajectories(a[np.ix_(ii, jj)]).reshape(len(ii) * len(jj), -1, 2)  # (G, M+1, 2)
    origin = np.stack(np.meshgrid(jj * stride, ii * stride), axis=-1).reshape(-1, 1, 2).astype(np.float64)
    length = np.linalg.norm(np.diff(sel, axis=1), axis=2).sum(axis=1)
    keep = length >= min_length_px
    pts = origin[keep] + scale * sel[keep]  # (G', M+1, 2) px
    fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
    M = pts.shape[1] - 1
    for m in range(M):  # one draw call per segment index, all glyphs at once
        u = (m + 0.5) / M
        colour = (int(255 * u), int(80 + 60 * (1 - abs(2 * u - 1))), int(255 * (1 - u)))  # blue -> red (RGB)
        segs = [s for s in fixed[:, m : m + 2, :]]
        if segs:
            cv2.polylines(canvas, segs, False, colour, thickness, cv2.LINE_AA, _SHIFT)
    anchors = np.round(origin[keep, 0] * (1 << _SHIFT)).astype(np.int32)
    for x, y in anchors:  # per glyph (a few hundred), not per pixel
        cv2.circle(canvas, (int(x), int(y)), 1 << _SHIFT, (255, 255, 255), -1, cv2.LINE_AA, _SHIFT)
    return canvas


def net_displacement(cmf_hwc) -> np.ndarray:
    """(h, w, 2) net displacement p_M - p_0 (sum of the segments), px."""
    a = _check_cmf(cmf_hwc)
    return np.stack([a[..., 0::2].sum(axis=-1), a[..., 1::2].sum(axis=-1)], axis=-1)


def cmf_colorwheel(cmf_hwc, *, max_px: float | None = None, stride: int = 1) -> np.ndarray:
    """Flow colour coding of the net displacement p_M - p_0: hue = direction, saturation = magnitude.

    Hue follows the angle atan2(dy, dx) (0 deg = right = red, 90 deg = down, image coordinates); magnitude is
    normalised by ``max_px`` (default the field's maximum), white = no motion, fully saturated = max_px or more.
    Returns (stride*h, stride*w, 3) uint8 RGB (nearest-neighbour upsampling by ``stride``).
    """
    import cv2

    d = net_displacement(cmf_hwc)
    mag = np.hypot(d[..., 0], d[..., 1])
    ang = np.mod(np.arctan2(d[..., 1], d[..., 0]), 2 * np.pi)
    top = float(mag.max()) if max_px is None else float(max_px)
    sat = np.clip(mag / top, 0.0, 1.0) if top > 0 else np.zeros_like(mag)
    hsv = np.stack(
        [np.round(ang / (2 * np.pi) * 180.0) % 180, np.round(sat * 255), np.full_like(mag, 255)], axis=-1
    ).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if stride > 1:
        rgb = np.repeat(np.repeat(rgb, stride, axis=0), stride, axis=1)
    return rgb


def colorwheel_legend(size: int = 64) -> np.ndarray:
    """(size, size, 3) uint8 RGB key for :func:`cmf_colorwheel` (centre = no motion, rim = max_px)."""
    r = np.arange(size) - (size - 1) / 2.0
    xx, yy = np.meshgrid(r, r)
    field = np.stack([xx, yy], axis=-1) * (2.0 / size)
    rgb = cmf_colorwheel(field, max_px=1.0)
    rgb[np.hypot(xx, yy) > size / 2.0] = 255
    return rgb


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB picture as PNG (creates parent folders). Raises ImageError on failure."""
    import cv2

    path = Path(path)
    a = np.asarray(rgb)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ImageError(f"{path}: expected (H, W, 3) uint8 RGB, got {a.dtype} {a.shape}")
    if path.suffix.lower() != ".png":
        raise ImageError(f"{path}: the output must be a .png file; give a name ending in .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok = cv2.imwrite(str(path), np.ascontiguousarray(a[..., ::-1]))
    except cv2.error as exc:
        raise ImageError(f"{path}: could not write PNG ({str(exc).strip().splitlines()[-1][:120]}); check the "
                         "folder and the .png extension") from None
    if not ok:
        raise ImageError(f"{path}: could not write PNG; check the folder and the .png extension")
    return path


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; ImageError naming the file when it cannot be read."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"{path}: cannot read the image (missing, not an image, or unsupported format)")
    return np.ascontiguousarray(img[..., ::-1])
