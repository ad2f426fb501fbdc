"""Transfer functions: sRGB <-> linear (IEC 61966-2-1) and the RSBlur A7R3 camera response.

Conventions (spec ``rsblur.md`` §3.1, B10, B12):

- Values are normalised intensities, 1.0 = display / sensor white (an 8-bit PNG divided by 255).
- ``srgb_to_linear`` (decode, ``g^-1``): ``x / 12.92`` if ``|x| < 0.04045`` else ``((|x| + 0.055) / 1.055)^2.4``;
  ``linear_to_srgb`` (encode, ``g``): ``12.92 y`` if ``|y| < 0.0031308`` else ``1.055 |y|^(1/2.4) - 0.055``.
  Both are extended to negative inputs as ``sign(x) f(|x|)`` (the forward ISP can create negative values after
  noise and the colour matrix) and the break-point test is a strict ``<``, as in MATLAB ``rgb2lin``/``lin2rgb``
  and both RSBlur implementations. No clipping here: callers clip where the pipeline says so.
- ``a7r3_crf`` is RSBlur's B12 "adopt the A7R3 camera response": a degree-7 polynomial of the *linear* value,
  clipped to [0, 1]. It is a forward re-encoding only (not monotone, not invertible near the top).

Every function accepts a numpy array or a torch tensor (any shape, applied element-wise) and returns the same
type, dtype and device. Computation stays in the input dtype (float32 in the pipeline, like upstream).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np
import torch

__all__ = ["srgb_to_linear", "linear_to_srgb", "a7r3_crf", "a7r3_crf_coefficients", "SRGB"]

# IEC 61966-2-1 constants (rsblur.md §3.1; pipeline_params.json "srgb_transfer").
SRGB = {
    "decode_threshold": 0.04045,
    "encode_threshold": 0.0031308,
    "slope": 12.92,
    "offset": 0.055,
    "scale": 1.055,
    "gamma": 2.4,
}


def _is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _asfloat(x):
    if _is_torch(x):
        return x if x.is_floating_point() else x.float()
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _tpow(a, e: float):
    """``a ** e`` for a torch tensor. On CPU, torch's vectorised and scalar-tail ``pow`` kernels can differ by
    one ulp, which would make a sample's result depend on its position in the batch; computing in float64 and
    rounding back makes float32 results layout-independent (bit-identical replays of single samples)."""
    if a.device.type == "cpu" and a.dtype in (torch.float32, torch.float16, torch.bfloat16):
        return (a.double() ** e).to(a.dtype)
    return a**e


def srgb_to_linear(x):
    """sRGB-encoded value -> linear light (``g^-1``), sign-symmetric, strict ``<`` at 0.04045.

    >>> float(srgb_to_linear(np.float64(0.5)))  # doctest: +ELLIPSIS
    0.2140...
    """
    x = _asfloat(x)
    if _is_torch(x):
        a = x.abs()
        lin = torch.where(
            a < SRGB["decode_threshold"],
            a / SRGB["slope"],
            _tpow((a + SRGB["offset"]) / SRGB["scale"], SRGB["gamma"]),
        )
        return torch.sign(x) * lin
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        lin = np.where(
            a < SRGB["decode_threshold"],
            a / SRGB["slope"],
            ((a + SRGB["offset"]) / SRGB["scale"]) ** SRGB["gamma"],
        )
    return (np.sign(x) * lin).astype(x.dtype, copy=False)


def linear_to_srgb(y):
    """Linear light -> sRGB encoding (``g``), sign-symmetric, strict ``<`` at 0.0031308. No clipping.

    >>> round(float(linear_to_srgb(np.float64(0.2140411404))), 6)
    0.5
    """
    y = _asfloat(y)
    if _is_torch(y):
        a = y.abs()
        enc = torch.where(
            a < SRGB["encode_threshold"],
            a * SRGB["slope"],
            SRGB["scale"] * _tpow(a, 1.0 / SRGB["gamma"]) - SRGB["offset"],
        )
        return torch.sign(y) * enc
    a = np.abs(y)
    enc = np.where(
        a < SRGB["encode_threshold"],
        a * SRGB["slope"],
        SRGB["scale"] * a ** (1.0 / SRGB["gamma"]) - SRGB["offset"],
    )
    return (np.sign(y) * enc).astype(y.dtype, copy=False)


@functools.lru_cache(maxsize=1)
def a7r3_crf_coefficients() -> tuple[float, ...]:
    """The 8 ascending-power coefficients of the A7R3 CRF polynomial (rsblur.md B12), from the shipped asset."""
    path = resources.files("gyrobench") / "assets" / "rsblur" / "a7r3_crf.json"
    data = json.loads(path.read_text())
    coef = data["a7r3_polynomial_alpha"]["coefficients_ascending_power"]
    return tuple(float(c) for c in coef)


def a7r3_crf(x_linear):
    """RSBlur B12: ``clip(sum_k alpha_k x^k, 0, 1)`` of a *linear* value (Horner's scheme, input dtype).

    Apply to both the degraded image and the ground truth (after decoding them to linear), never invert it.
    """
    x = _asfloat(x_linear)
    coef = a7r3_crf_coefficients()
    y = x * 0 + coef[-1]
    for c in reversed(coef[:-1]):
        y = y * x + c
    if _is_torch(y):
        return y.clamp(0.0, 1.0)
    return np.clip(y, 0.0, 1.0).astype(x.dtype, copy=False)
