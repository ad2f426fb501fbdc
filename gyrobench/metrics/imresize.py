"""MATLAB-compatible ``imresize`` (bicubic, antialiased) as separable resampling matrices (numpy, float64).

NIQE's half-scale step calls MATLAB ``imresize(im, 0.5)`` (bicubic with antialiasing); this is where ports
differ, so it is written out here from MATLAB's documented algorithm (Keys 1981 cubic with ``a = -0.5``):

- output length ``ceil(in * scale)``; output pixel ``x`` (1-based) maps to input coordinate
  ``u = x / scale + 0.5 * (1 - 1 / scale)`` (pixel centres aligned);
- for ``scale < 1`` with antialiasing the kernel is stretched: ``h(t) = scale * cubic(scale * t)``, support
  width ``4 / scale``;
- taps ``left = floor(u - width / 2)``, ``P = ceil(width) + 2`` taps, weights normalised to sum 1 per output pixel;
- out-of-range taps are mirrored (symmetric boundary: ``1..n, n..1``);
- dimensions are resized in order of increasing scale (rows first on ties).

Each 1-D resize is a dense matrix ``W (out, in)``, so ``out = W_rows @ image @ W_cols.T`` (no pixel loops).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cubic", "resize_matrix", "imresize"]


def cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a`` (MATLAB uses ``a = -0.5``)."""
    at = np.abs(t)
    at2, at3 = at * at, at * at * at
    inner = (a + 2.0) * at3 - (a + 3.0) * at2 + 1.0
    outer = a * at3 - 5.0 * a * at2 + 8.0 * a * at - 4.0 * a
    return np.where(at <= 1.0, inner, np.where(at <= 2.0, outer, 0.0))


def resize_matrix(in_len: int, scale: float, out_len: int | None = None, antialias: bool = True) -> np.ndarray:
    """The ``(out_len, in_len)`` float64 matrix of MATLAB's bicubic ``imresize`` along one axis."""
    if out_len is None:
        out_len = int(math.ceil(in_len * scale))
    kernel_width = 4.0
    if scale < 1.0 and antialias:
        kernel_width = kernel_width / scale

        def kernel(t):
            return scale * cubic(scale * t)
    else:
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input indices, (out, taps)
    w = kernel(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    # symmetric (mirror) boundary: 1..n, n..1 repeated
    period = 2 * in_len
    j = np.mod(idx.astype(np.int64) - 1, period)
    j = np.where(j < in_len, j, period - 1 - j)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), taps), j.ravel()), w.ravel())
    return mat


def imresize(img: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """Resize a 2-D float array (H, W) like MATLAB ``imresize(img, scale)`` with the bicubic kernel.

    Returns float64 of shape ``(ceil(H * scale), ceil(W * scale))``; no rounding or clipping (as MATLAB does
    for ``double`` input).
    """
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"imresize: expected a 2-D (H, W) array, got shape {img.shape}")
    h, w = img.shape
    rows = resize_matrix(h, scale, antialias=antialias)
    cols = resize_matrix(w, scale, antialias=antialias)
    return rows @ img @ cols.T
