"""Camera-gyro time offset (and rolling-shutter readout) from the blurred photo itself.

Idea (``docs/captures.md``, "Time calibration from the photo"): a blurred tile is ``B = k * L`` (its blur
kernel ``k`` convolved with the sharp tile), so the power spectrum of its gradients is
``|K(f)|^2 |F(grad L)(f)|^2``. The gradients of natural images have a roughly flat, featureless spectrum, so
the **shape** of ``log |F(grad B)|^2`` is that of ``log |K|^2`` up to a constant per tile. Each candidate offset
(and readout) gives a motion field, hence a kernel per tile (:func:`gyrobench.models.gyro_inputs.
trajectory_psf` of the field's trajectory at the tile centre); the cost is the squared difference between the
two log spectra after removing each tile's mean, summed over tiles and over the band 0.02-0.45 cycles/px. The
offset minimising it is refined with a parabola through the best grid point and its neighbours.

- tiles: ``T x T`` (T = 64, or larger so the longest blur predicted at the capture's offset fits in a third of a
  tile; up to 256),
  half-overlapping, Hann window, luminance of the **linear** photo, forward differences;
- floors: ``1e-3`` x the tile's mean power (noise and quantisation) and ``1e-3`` under ``|K|^2``;
- search: offsets ``capture offset +- range_ms`` every ``step_ms`` (default 1 ms); with ``search_readout``,
  readouts ``0 .. readout_max_ms`` every 2 ms along the line of constant mid-row timing (``offset - readout / 2``,
  which the first search pins down), then the offset again at the chosen readout.

Measured on synthetic captures (``benchmarks/bench_timecal.py``, results in ``benchmarks/results/``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..capture.fields import capture_motion_field, linear_photo
from ..capture.format import Capture, CaptureError
from ..io import write_text_atomic
from ..log import get_logger, progress
from ..models.gyro_inputs import cmf_poses, interp_even_grid, trajectory_psf

__all__ = ["gradient_spectra", "kernel_spectrum_cost", "calibrate_capture", "BAND"]

log = get_logger("timecal")

#: frequency band used by the cost, cycles per pixel (radial)
BAND = (0.02, 0.45)
_FLOOR = 1e-3


def gradient_spectra(lin_hwc: np.ndarray, tile: int):
    """``(log power (n, T, T), tile centres (n, 2) as (row, col) px, band mask (T, T))`` of the photo's gradients."""
    gray = np.asarray(lin_hwc, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    H, W = gray.shape
    if H < tile or W < tile:
        raise CaptureError(f"photo {W}x{H} is smaller than one {tile}x{tile} calibration tile; use a larger photo")
    step = tile // 2
    win = np.outer(np.hanning(tile), np.hanning(tile))
    logs, centres = [], []
    for y in range(0, H - tile + 1, step):
        for x in range(0, W - tile + 1, step):
            t = gray[y:y + tile, x:x + tile]
            gx = np.diff(t, axis=1, append=t[:, -1:])
            gy = np.diff(t, axis=0, append=t[-1:, :])
            p = np.abs(np.fft.fft2(gx * win)) ** 2 + np.abs(np.fft.fft2(gy * win)) ** 2
            logs.append(np.log(p + _FLOOR * p.mean() + 1e-30))
            centres.append((y + tile / 2 - 0.5, x + tile / 2 - 0.5))
    f = np.sqrt(np.fft.fftfreq(tile)[:, None] ** 2 + np.fft.fftfreq(tile)[None, :] ** 2)
    return np.stack(logs), np.asarray(centres), (f > BAND[0]) & (f < BAND[1])


def _tile_poses(field: np.ndarray, centres: np.ndarray) -> torch.Tensor:
    """Trajectory offsets (n, M+1, 2) px of the field at each tile centre."""
    poses = cmf_poses(torch.from_numpy(np.ascontiguousarray(field))[None].double())[0]  # (M+1, 2, h, w)
    out = [interp_even_grid(poses, torch.tensor([cy]), torch.tensor([cx]))[..., 0, 0] for cy, cx in centres]
    return torch.stack(out)


def kernel_spectrum_cost(field: np.ndarray, spectra, tile: int) -> float:
    """Mean over tiles of the band-limited squared mismatch of log spectra (module docstring)."""
    logp, centres, mask = spectra
    pv = _tile_poses(field, centres)
    r = tile // 2 - 1
    psf = trajectory_psf(pv, radius=r).numpy()  # (n, 2r+1, 2r+1), centre at index r
    k = np.zeros((len(psf), tile, tile))
    k[:, : 2 * r + 1, : 2 * r + 1] = psf
    model = np.log(np.abs(np.fft.fft2(k)) ** 2 + _FLOOR)  # |K|^2 does not depend on where the kernel sits
    res = logp - model
    res = res - (res * mask).sum(axis=(1, 2), keepdims=True) / mask.sum()
    return float(((res ** 2) * mask).sum() / len(logp))


def _tile_size(cap, folder, rec, offsets_ns, readout) -> int:
    longest = 0.0
    for o in offsets_ns:
        f = capture_motion_field(cap, folder, pad_multiple=1, time_offset_ns=int(o), readout_time_s=readout, rec=rec)
        p = cmf_poses(torch.from_numpy(f)[None].double())[0]
        longest = max(longest, float(p.abs().amax()) * 2)
    t = 64
    while t < 3 * longest + 8 and t < 256:
        t *= 2
    return t


def _refine(xs: np.ndarray, ys: np.ndarray) -> float:
    """Vertex of the parabola through the grid minimum and its neighbours (the minimum itself at an edge)."""
    i = int(np.argmin(ys))
    if i == 0 or i == len(xs) - 1:
        return float(xs[i])
    y0, y1, y2 = ys[i - 1], ys[i], ys[i + 1]
    den = y0 - 2 * y1 + y2
    if den <= 0:
        return float(xs[i])
    h = xs[i + 1] - xs[i]
    return float(xs[i] + 0.5 * h * (y0 - y2) / den)


def calibrate_capture(cap: Capture, folder, *, range_ms: float = 30.0, step_ms: float = 1.0,
                      search_readout: bool = False, readout_max_ms: float = 40.0, readout_step_ms: float = 2.0,
                      out_dir=None, write: bool = False) -> dict:
    """Estimate ``time_offset_ns`` (and ``readout_time_s``) of a capture from its photo (module docstring).

    Returns a dict with the estimates, the cost curves, the tile size and, for synthetic captures, the error
    against the truth; ``out_dir`` receives ``calibration.json`` and the diagnostic plot ``calibration.png``;
    ``write=True`` stores the estimate in the capture's ``capture.json``.
    """
    folder = Path(folder)
    lin, _ = linear_photo(cap, folder)
    rec = cap.recording(folder)  # photo clock at the capture's current offset
    base = cap.time_offset_ns
    readout = cap.readout_time_s
    offsets = base + np.round(np.arange(-range_ms, range_ms + 1e-9, step_ms) * 1e6).astype(np.int64)
    # the gyro must cover every candidate: drop offsets whose exposure falls outside the log
    extra = int(readout_max_ms * 1e6) if search_readout else 0
    ok = [(rec.t_ns[0] <= cap.exposure_start_ns - (o - base)) and
          (rec.t_ns[-1] >= cap.exposure_end_ns + extra - (o - base)) for o in offsets]
    offsets = offsets[np.asarray(ok)]
    if len(offsets) < 3:
        raise CaptureError(f"{folder / 'capture.json'}: the gyro log does not cover the photo over +-{range_ms} ms"
                           "; import with a longer log or search a smaller --range-ms")
    tile = _tile_size(cap, folder, rec, [base], readout)
    spectra = gradient_spectra(lin, tile)

    def cost(o, r):
        f = capture_motion_field(cap, folder, pad_multiple=1, time_offset_ns=int(o), readout_time_s=r, rec=rec)
        return kernel_spectrum_cost(f, spectra, tile)

    def search_offset(r):
        c = np.array([cost(o, r) for o in progress(offsets, desc="time offset")])
        return (_refine((offsets - base) / 1e6, c) * 1e6 + base), c

    best_o, c_off = search_offset(readout)
    curves = {"offset_ms": ((offsets - base) / 1e6 + base / 1e6).tolist(), "offset_cost": c_off.tolist()}
    if search_readout:
        # offset and readout trade off: the mid row is exposed at gyro time start + readout / 2 - offset, so
        # g = offset - readout / 2 is what the first search pins down; search the readout along constant g,
        # then the offset again at the chosen readout
        g = best_o - readout * 1e9 / 2
        rs = np.arange(0.0, readout_max_ms + 1e-9, readout_step_ms) * 1e-3
        c_r = np.array([cost(int(round(g + r * 1e9 / 2)), r) for r in progress(rs, desc="readout")])
        readout = max(0.0, _refine(rs, c_r))
        best_o, c_off = search_offset(readout)
        curves.update(readout_ms=(rs * 1e3).tolist(), readout_cost=c_r.tolist(), offset_cost=c_off.tolist())
    result = {"time_offset_ns": int(round(best_o)), "readout_time_s": float(readout), "tile": tile,
              "n_tiles": len(spectra[0]), "band_cycles_per_px": list(BAND), "range_ms": range_ms,
              "step_ms": step_ms, "searched_readout": bool(search_readout), "curves": curves,
              "method": "log gradient power spectrum vs |K|^2 of the field's per-tile kernels (docs/captures.md)"}
    truth = (cap.source or {}).get("truth")
    if truth:
        result["truth"] = truth
        result["offset_error_ms"] = (result["time_offset_ns"] - truth["time_offset_ns"]) / 1e6
        if search_readout:
            result["readout_error_ms"] = (readout - truth["readout_time_s"]) * 1e3
    log.info("calibrate %s: offset %.3f ms%s%s", cap.name, result["time_offset_ns"] / 1e6,
             f", readout {readout * 1e3:.2f} ms" if search_readout else "",
             f" (truth {truth['time_offset_ns'] / 1e6:.3f} ms, error {result['offset_error_ms']:+.3f} ms)"
             if truth else "")
    if out_dir is not None:
        out = Path(out_dir)
        result["plot"] = str(_plot(result, out / "calibration.png", cap.name))
        write_text_atomic(out / "calibration.json", json.dumps(result, indent=1) + "\n")
    else:
        result["plot"] = None
    if write:
        new = cap.replace(time_offset_ns=result["time_offset_ns"], readout_time_s=result["readout_time_s"],
                          source={**cap.source, "time_calibration": {k: v for k, v in result.items()
                                                                       if k not in ("curves",)}})
        write_text_atomic(folder / "capture.json", json.dumps(new.to_dict(), indent=1) + "\n")
    return result


def _plot(res: dict, path: Path, name: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = res["curves"]
    n = 2 if "readout_ms" in c else 1
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(c["offset_ms"], c["offset_cost"], "-o", ms=2.5, lw=1)
    ax.axvline(res["time_offset_ns"] / 1e6, color="C3", lw=1.2, label=f"estimate {res['time_offset_ns'] / 1e6:.2f} ms")
    if "truth" in res:
        ax.axvline(res["truth"]["time_offset_ns"] / 1e6, color="k", ls="--", lw=1,
                   label=f"truth {res['truth']['time_offset_ns'] / 1e6:.2f} ms (synthetic)")
    ax.set_xlabel("camera-gyro time offset (ms)")
    ax.set_ylabel("spectral mismatch (lower = better)")
    ax.set_title(f"{name}: time offset", fontsize=10)
    ax.legend(fontsize=8)
    if n == 2:
        ax = axes[0, 1]
        ax.plot(c["readout_ms"], c["readout_cost"], "-o", ms=2.5, lw=1)
        ax.axvline(res["readout_time_s"] * 1e3, color="C3", lw=1.2, label=f"estimate {res['readout_time_s'] * 1e3:.1f} ms")
        if "truth" in res:
            ax.axvline(res["truth"]["readout_time_s"] * 1e3, color="k", ls="--", lw=1, label="truth (synthetic)")
        ax.set_xlabel("rolling-shutter readout (ms)")
        ax.set_title(f"{name}: readout", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

