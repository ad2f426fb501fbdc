"""Procedural training images: a seeded dead-leaves model with textured shapes (issue 9 item 2).

The dead-leaves model (Matheron; used as a training prior for restoration networks by Achddou, Gousseau and
Ladjal, "Synthetic images as a regularity prior for image restoration neural networks", SSVM 2021, and by
VibrantLeaves, arXiv 2504.10201) stacks opaque random shapes whose sizes follow a power law, which gives images
with scale-invariant statistics, sharp occlusion edges and flat-to-textured regions: the edges a deblurring
network must learn to restore. No image file is read: the colours come from a fixed parametric model (below),
not from any dataset, so the Kodak test images stay unseen.

Model (all lengths in output pixels; one call = one image, a pure function of the generator state):

* **shapes**: ``n_shapes`` leaves (enough to cover the image ``coverage`` times on average) on top of a
  background leaf; leaf k hides every leaf after it. Kind: disk (probability ``p_disk``) or rotated rectangle of
  aspect ratio in [1, ``max_aspect``]; centres uniform over the image extended by ``r_max``;
  radius ``r`` with density ``p(r) ∝ r^-alpha`` on ``[r_min, r_max]`` (``alpha = 3``: scale invariance,
  Achddou et al. §3; ``r_max = r_max_frac · max(h, w)``), drawn by inverting the CDF.
* **colours** (sRGB-encoded, the colour space of the packaged images; converted to linear light by the caller as
  image files are): hue uniform in [0, 1); saturation ``Beta(sat_a, sat_b)`` (mostly muted colours); value
  ``Beta(val_a, val_b)`` (mean about 0.55). Each leaf has a second colour (same hue ± 0.08, value scaled by
  U(0.4, 1.3)) used by its texture.
* **texture** (VibrantLeaves' idea of textured leaves, re-done simply): a leaf is flat (probability ``p_flat``),
  a sinusoidal grating between its two colours (period log-uniform in [``period_min``, ``r``·4], random
  orientation and phase) or a linear gradient across the leaf.
* **anti-aliasing**: rendered at ``supersample``× the size with OpenCV, area-averaged down.

What it does not model: depth-of-field blur of background leaves, real-world colour co-occurrence and the
statistics of natural textures beyond gratings and gradients.

Conventions: output ``(h, w, 3)`` float32 HWC, sRGB-encoded values in [0, 1]; ``dead_leaves_linear`` returns
linear light (:func:`gyrobench.color.srgb_to_linear`), the input convention of the renderer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DeadLeavesParams", "dead_leaves", "dead_leaves_linear", "radius_samples"]


@dataclass(frozen=True)
class DeadLeavesParams:
    """Parameters of :func:`dead_leaves` (see the module docstring; defaults are gyrobench's choices)."""

    alpha: float = 3.0
    r_min: float = 1.5
    r_max_frac: float = 0.35
    coverage: float = 4.0
    max_shapes: int = 20000
    p_disk: float = 0.6
    max_aspect: float = 3.0
    sat_a: float = 1.2
    sat_b: float = 2.5
    val_a: float = 2.2
    val_b: float = 1.8
    p_flat: float = 0.4
    p_grating: float = 0.35
    period_min: float = 2.5
    supersample: int = 2

    def __post_init__(self):
        if not (self.alpha > 1 and 0 < self.r_min and 0 < self.r_max_frac <= 1 and self.coverage > 0):
            raise ValueError("dead leaves: need alpha > 1, r_min > 0, 0 < r_max_frac <= 1, coverage > 0")
        if not (0 <= self.p_flat + self.p_grating <= 1 and 0 <= self.p_disk <= 1 and self.supersample >= 1):
            raise ValueError("dead leaves: need p_flat + p_grating <= 1, 0 <= p_disk <= 1, supersample >= 1")


def radius_samples(rng: np.random.Generator, n: int, alpha: float, r_min: float, r_max: float) -> np.ndarray:
    """``n`` radii with density ∝ r^-alpha on [r_min, r_max] (alpha > 1), by inverting the CDF."""
    u = rng.random(n)
    a1 = 1.0 - alpha
    lo, hi = r_min**a1, r_max**a1
    return (lo + u * (hi - lo)) ** (1.0 / a1)


def _mean_area(alpha: float, r_min: float, r_max: float) -> float:
    """E[π r²] under the power law (closed form), to size the number of leaves."""
    a = alpha
    norm = (r_min ** (1 - a) - r_max ** (1 - a)) / (a - 1)
    if abs(a - 3.0) < 1e-9:
        m2 = math.log(r_max / r_min)
    else:
        m2 = (r_max ** (3 - a) - r_min ** (3 - a)) / (3 - a)
    return math.pi * m2 / norm


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, all in [0, 1]; returns (n, 3)."""
    i = np.floor(h * 6.0).astype(np.int64) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(len(h))]


def dead_leaves(size: tuple[int, int], rng: np.random.Generator, params: DeadLeavesParams | None = None
                ) -> np.ndarray:
    """One dead-leaves image ``(h, w, 3)`` float32, sRGB-encoded in [0, 1] (module docstring)."""
    import cv2

    p = params or DeadLeavesParams()
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"dead leaves: size must be positive, got {size}")
    ss = p.supersample
    H, W = h * ss, w * ss
    r_max = max(p.r_min * 1.01, p.r_max_frac * max(h, w))
    ext = r_max  # centres may lie outside the image by up to r_max
    area = (h + 2 * ext) * (w + 2 * ext)
    n = int(min(p.max_shapes, max(16, math.ceil(p.coverage * area / _mean_area(p.alpha, p.r_min, r_max)))))

    r = radius_samples(rng, n, p.alpha, p.r_min, r_max)
    cx = rng.uniform(-ext, w + ext, n)
    cy = rng.uniform(-ext, h + ext, n)
    disk = rng.random(n) < p.p_disk
    theta = rng.uniform(0, np.pi, n)
    aspect = np.exp(rng.uniform(0, math.log(p.max_aspect), n))

    # colours: leaf 0 = background (label 0), leaves 1..n on top in reverse depth order
    m = n + 1
    hue = rng.random(m)
    sat = rng.beta(p.sat_a, p.sat_b, m)
    val = rng.beta(p.val_a, p.val_b, m)
    c1 = _hsv_to_rgb(hue, sat, val)
    hue2 = (hue + rng.uniform(-0.08, 0.08, m)) % 1.0
    c2 = _hsv_to_rgb(hue2, np.clip(sat * rng.uniform(0.6, 1.4, m), 0, 1),
                     np.clip(val * rng.uniform(0.4, 1.3, m), 0, 1))
    u = rng.random(m)
    kind = np.where(u < p.p_flat, 0, np.where(u < p.p_flat + p.p_grating, 1, 2))  # flat / grating / gradient
    rr = np.concatenate([[max(h, w)], r])
    period = np.exp(rng.uniform(math.log(p.period_min), np.log(np.maximum(p.period_min * 1.01, 4 * rr))))
    phi = rng.uniform(0, 2 * np.pi, m)
    orient = rng.uniform(0, 2 * np.pi, m)
    phase = rng.uniform(0, 2 * np.pi, m)
    ccx = np.concatenate([[w / 2], cx])
    ccy = np.concatenate([[h / 2], cy])

    # label map: paint the deepest leaf first, the top leaf (1) last; 4 fractional bits of sub-pixel precision
    label = np.zeros((H, W), dtype=np.int32)
    shift = 4
    one = 1 << shift
    x = (cx + 0.5) * ss - 0.5
    y = (cy + 0.5) * ss - 0.5
    rk = r * ss
    ix, iy, ir = (np.round(v * one).astype(np.int64).tolist() for v in (x, y, rk))
    a, b = rk * np.sqrt(aspect), rk / np.sqrt(aspect)
    ca, sa = np.cos(theta), np.sin(theta)
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)
    dx, dy = corners[None, :, 0] * a[:, None], corners[None, :, 1] * b[:, None]  # (n, 4)
    quads = np.round(np.stack([x[:, None] + ca[:, None] * dx - sa[:, None] * dy,
                               y[:, None] + sa[:, None] * dx + ca[:, None] * dy], -1) * one).astype(np.int32)
    circle, poly, line = cv2.circle, cv2.fillConvexPoly, cv2.LINE_8
    disk_l = disk.tolist()
    for k in range(n - 1, -1, -1):
        if disk_l[k]:
            circle(label, (ix[k], iy[k]), ir[k], k + 1, -1, line, shift)
        else:
            poly(label, quads[k], k + 1, line, shift)

    # colour every pixel from its leaf's parameters (vectorised)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    xs = (xs + 0.5) / ss
    ys = (ys + 0.5) / ss
    kd = kind[label]
    t = np.zeros((H, W), dtype=np.float32)
    g = kd == 1
    if g.any():
        lab = label[g]
        arg = (2 * np.pi / period[lab]) * (xs[g] * np.cos(phi[lab]) + ys[g] * np.sin(phi[lab])) + phase[lab]
        t[g] = 0.5 + 0.5 * np.sin(arg)
    gr = kd == 2
    if gr.any():
        lab = label[gr]
        d = ((xs[gr] - ccx[lab]) * np.cos(orient[lab]) + (ys[gr] - ccy[lab]) * np.sin(orient[lab])) / rr[lab]
        t[gr] = np.clip(0.5 + 0.5 * d, 0.0, 1.0)
    c1f, c2f = c1.astype(np.float32), c2.astype(np.float32)
    img = c1f[label] + (c2f[label] - c1f[label]) * t[..., None]
    if ss > 1:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)


def dead_leaves_linear(size: tuple[int, int], rng: np.random.Generator, params: DeadLeavesParams | None = None
                       ) -> np.ndarray:
    """:func:`dead_leaves` in linear light (sRGB EOTF), float32 HWC in [0, 1]."""
    from ..color import srgb_to_linear

    return np.ascontiguousarray(srgb_to_linear(dead_leaves(size, rng, params)), dtype=np.float32)
