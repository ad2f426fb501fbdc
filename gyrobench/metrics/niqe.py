"""NIQE, the Natural Image Quality Evaluator (no-reference, lower is better), written from the published algorithm.

Mittal, Soundararajan, Bovik, "Making a 'Completely Blind' Image Quality Analyzer", IEEE SPL 20(3), 2013, with
the pristine multivariate-Gaussian model of the LIVE release shipped in ``gyrobench/assets/niqe/`` (read from
the package, never downloaded). Steps, per image (all float64):

1. Grey level: ``Y = 0.299 R + 0.587 G + 0.114 B`` of the protocol's 8-bit encoding (YIQ luma, as pyiqa's
   default ``color_space='yiq'``), rounded to integers in [0, 255]. (The MATLAB release uses ``rgb2gray`` with
   coefficients 0.2989/0.5870/0.1140; the two differ by < 0.5 grey level before rounding.)
2. Crop to a whole number of 96x96 blocks (top-left anchored).
3. For scales 1 and 1/2: MSCN coefficients ``(Y - mu) / (sigma + 1)`` with ``mu``, ``sigma`` from the 7x7
   Gaussian window (sigma 7/6, normalised) and replicated borders (MATLAB ``imfilter(..., 'replicate')``);
   per block (96 px at scale 1, 48 px at scale 1/2) 18 features: the AGGD fit of the MSCN values
   ``(alpha, (beta_l + beta_r) / 2)`` and, for the products with the circularly shifted block along
   ``(0, 1), (1, 0), (1, 1), (1, -1)``, ``(alpha, eta, beta_l, beta_r)`` with
   ``eta = (beta_r - beta_l) Gamma(2/alpha) / Gamma(1/alpha)``.
   AGGD fit by moment matching (Lasmar et al. 2009): ``sigma_l``, ``sigma_r`` = RMS of the negative / positive
   values, ``r = mean|x|^2 / mean x^2``, ``R = r (g^3 + 1)(g + 1) / (g^2 + 1)^2`` with ``g = sigma_l / sigma_r``;
   ``alpha`` = the value of the grid 0.2:0.001:10 whose ``Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))`` is nearest
   ``R``; ``beta = sigma sqrt(Gamma(1/alpha) / Gamma(3/alpha))``.
   Half scale: MATLAB bicubic ``imresize(Y, 0.5)`` with antialiasing (:mod:`gyrobench.metrics.imresize`).
4. ``mu_d`` = column mean of the (blocks x 36) feature matrix ignoring NaNs (blocks without negative or
   positive values), ``S_d`` = sample covariance of the complete rows;
   ``NIQE = sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d))``.

Numerical compatibility (``compat=``). NIQE is sensitive at the 0.02 level to rounding: the shape ``alpha`` is
picked from a grid by ``argmin``, and where the ratio curve is flat (large ``alpha``) a 1e-5 change of the input
moves ``alpha`` by 0.01–0.03. The pyiqa port (whose published scores are the calibration target) rounds the
Gaussian window to float32 and computes the luma in float32. ``compat="pyiqa"`` (default) does the same two
things and is otherwise float64; ``compat="float64"`` keeps everything in float64. Measured distances to the
pyiqa row of ``reference/niqe/README.md`` (I03, I04, I06, I08, I19): ``pyiqa`` +0.0020, 0.0000, 0.0000,
-0.0004, 0.0000; ``float64`` +0.0158, 0.0000, +0.0009, +0.0178, +0.0158 (see ``docs/metrics.md``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import correlate
from scipy.special import gamma as gamma_fn

from ..errors import GyrobenchError, ShapeError
from .imresize import imresize
from .registry import Metric, register_metric

__all__ = ["NIQE", "niqe_gray", "load_pristine_params", "aggd_fit", "block_features"]

_GAM = np.arange(0.2, 10.0 + 1e-9, 0.001)  # MATLAB 0.2:0.001:10, 9801 values
_R_GAM = gamma_fn(2.0 / _GAM) ** 2 / (gamma_fn(1.0 / _GAM) * gamma_fn(3.0 / _GAM))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _default_params_path() -> Path:
    from ..assets import asset_dir

    return asset_dir("niqe") / "niqe_pristine_params.json"


@lru_cache(maxsize=4)
def load_pristine_params(path: str | None = None) -> dict:
    """``{"mu": (36,), "cov": (36, 36), "window": (7, 7), "block_size": 96}`` from the shipped JSON (or ``path``)."""
    p = Path(path) if path else _default_params_path()
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GyrobenchError(f"{p}: NIQE pristine parameter file not found; reinstall gyrobench or pass "
                             "params_path= pointing to niqe_pristine_params.json") from exc
    except json.JSONDecodeError as exc:
        raise GyrobenchError(f"{p}: not valid JSON ({exc}); restore the shipped niqe_pristine_params.json") from exc
    for key in ("mu", "cov", "gaussian_window"):
        if key not in d:
            raise GyrobenchError(f"{p}: field '{key}' missing; restore the shipped niqe_pristine_params.json")
    mu = np.asarray(d["mu"], dtype=np.float64).ravel()
    cov = np.asarray(d["cov"], dtype=np.float64)
    window = np.asarray(d["gaussian_window"], dtype=np.float64)
    if mu.shape != (36,) or cov.shape != (36, 36) or window.shape != (7, 7):
        raise GyrobenchError(f"{p}: fields mu {mu.shape}, cov {cov.shape}, gaussian_window {window.shape}; "
                             "expected (36,), (36,36), (7,7)")
    block = int(d.get("model_settings", {}).get("block_size", 96))
    return {"mu": mu, "cov": cov, "window": window / window.sum(), "block_size": block}


def aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching AGGD fit of each row of ``x`` (n, m) -> ``(alpha, beta_l, beta_r)``, each (n,).

    Rows without negative (or positive) values give NaN, as MATLAB's mean of an empty set.
    """
    neg = x < 0
    pos = x > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(np.where(neg, x * x, 0.0).sum(1) / neg.sum(1))
        right = np.sqrt(np.where(pos, x * x, 0.0).sum(1) / pos.sum(1))
        g = left / right
        rhat = np.abs(x).mean(1) ** 2 / (x * x).mean(1)
        rnorm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    # nearest grid value; NaN rows -> NaN alpha
    pos_idx = np.argmin((_R_GAM[None, :] - np.nan_to_num(rnorm, nan=0.0)[:, None]) ** 2, axis=1)
    alpha = np.where(np.isfinite(rnorm), _GAM[pos_idx], np.nan)
    with np.errstate(invalid="ignore"):
        scale = np.sqrt(gamma_fn(1.0 / alpha) / gamma_fn(3.0 / alpha))
    return alpha, left * scale, right * scale


def _blocks(img: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(H, W) with H, W multiples of the block -> (n_blocks, bh, bw), row-major block order."""
    h, w = img.shape
    return img.reshape(h // bh, bh, w // bw, bw).transpose(0, 2, 1, 3).reshape(-1, bh, bw)


def block_features(mscn: np.ndarray, block: int) -> np.ndarray:
    """The 18 NIQE features of every ``block x block`` tile of an MSCN map -> (n_blocks, 18)."""
    b = _blocks(mscn, block, block)
    n = b.shape[0]
    alpha, bl, br = aggd_fit(b.reshape(n, -1))
    feats = [alpha, (bl + br) / 2.0]
    for sh in _SHIFTS:
        prod = (b * np.roll(b, sh, axis=(1, 2))).reshape(n, -1)  # circular shift inside each block
        alpha, bl, br = aggd_fit(prod)
        with np.errstate(invalid="ignore"):
            eta = (br - bl) * gamma_fn(2.0 / alpha) / gamma_fn(1.0 / alpha)
        feats += [alpha, eta, bl, br]
    return np.stack(feats, axis=1)


def _mscn(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    mu = correlate(img, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(img * img, window, mode="nearest") - mu * mu))
    return (img - mu) / (sigma + 1.0)


def niqe_gray(gray: np.ndarray, params: dict | None = None, compat: str = "pyiqa") -> float:
    """NIQE of one grey image (H, W), grey levels in [0, 255] (float), as in steps 2–4 of the module doc."""
    p = params or load_pristine_params()
    block = p["block_size"]
    window = p["window"]
    if compat == "pyiqa":
        window = window.astype(np.float32).astype(np.float64)
    gray = np.asarray(gray, dtype=np.float64)
    h, w = gray.shape
    nh, nw = h // block, w // block
    if nh * nw < 2:
        raise ShapeError(f"niqe: image {h}x{w} holds {nh * nw} block(s) of {block}x{block}; NIQE needs at "
                         f"least 2 (e.g. {2 * block}x{block} pixels)")
    img = gray[: nh * block, : nw * block]
    feats = []
    for scale in (1, 2):
        feats.append(block_features(_mscn(img, window), block // scale))
        if scale == 1:
            img = imresize(img, 0.5)
    dist = np.concatenate(feats, axis=1)  # (n_blocks, 36)
    mu_d = np.nanmean(dist, axis=0)
    complete = dist[np.all(np.isfinite(dist), axis=1)]
    cov_d = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros((36, 36))
    diff = p["mu"] - mu_d
    inv = np.linalg.pinv((p["cov"] + cov_d) / 2.0)
    return float(np.sqrt(diff @ inv @ diff))


def rgb8_to_gray(img8: torch.Tensor, compat: str = "pyiqa") -> np.ndarray:
    """(N, 3 or 1, H, W) integer-valued float in [0, 255] -> (N, H, W) float64 YIQ luma, rounded.

    ``compat="pyiqa"`` evaluates ``(x / 255) @ w * 255`` in float32 like the pyiqa port (this decides the
    rounding of luma values that fall on .5); ``"float64"`` evaluates it in float64.
    """
    if img8.shape[1] == 1:
        return img8[:, 0].detach().to("cpu", torch.float64).numpy()
    dt = torch.float32 if compat == "pyiqa" else torch.float64
    x = (img8.detach().to("cpu", dt) / 255.0).permute(0, 2, 3, 1)  # (N, H, W, 3)
    w = torch.tensor([0.299, 0.587, 0.114], dtype=dt)
    return torch.round((x @ w) * 255.0).to(torch.float64).numpy()


@register_metric
class NIQE(Metric):
    """NIQE (no-reference, lower is better) on the protocol's 8-bit display encoding.

    The input colour space must be stated: ``input_space="display"`` (sRGB-encoded, as pyiqa takes it) or
    ``"linear"``, or a ``protocol`` (see :mod:`gyrobench.metrics.registry`)."""

    name = "niqe"
    lower_better = True
    full_reference = False
    citation = ("Mittal, Soundararajan, Bovik, 'Making a Completely Blind Image Quality Analyzer', "
                "IEEE SPL 20(3), 2013 (LIVE pristine model)")

    def __init__(self, protocol=None, device=None, params_path: str | None = None,
                 compat: str = "pyiqa", **overrides):
        super().__init__(protocol, device, **overrides)
        if compat not in ("pyiqa", "float64"):
            raise GyrobenchError(f"niqe: compat={compat!r}; use 'pyiqa' (default) or 'float64'")
        self.compat = compat
        self.params = load_pristine_params(str(params_path) if params_path else None)

    def score(self, pred8, target8=None):
        gray = rgb8_to_gray(pred8, self.compat)
        return torch.tensor([niqe_gray(g, self.params, self.compat) for g in gray], dtype=torch.float64)
