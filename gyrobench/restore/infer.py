"""``gyrobench infer``: restore one capture (a photo with its gyro) with a checkpoint or the classical model.

Steps (``docs/captures.md``, "Restoring a capture"):

1. read the capture; decode the photo to linear light (sRGB curve for display-encoded photos; the record says
   how, :func:`gyrobench.capture.fields.decoding_record`);
2. the camera motion field of the photo (rolling shutter and time offset from ``capture.json``) over the image
   padded to a multiple of 8, with the segment count the model was trained with; it goes into both field slots
   with alpha = 1 (the test-time protocol);
3. the model restores the linear image (clamped to [0, 1]);
4. outputs in ``out``: ``restored_srgb.png`` (8-bit display sRGB), ``restored_linear16.png`` (16-bit linear),
   ``input_srgb.png`` (the photo as displayed), ``field.png`` (trajectory glyphs of the field over the photo,
   blue = exposure start, red = end), and ``infer.json`` (what was run: capture and its sha256, model and
   checkpoint sha256, decoding, field options, outputs, versions, command, date).
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..capture.fields import capture_motion_field, linear_photo
from ..capture.format import load_capture
from ..color import linear_to_srgb
from ..errors import GyrobenchError
from ..folders import FolderError, check_folder, claim
from ..io import write_text_atomic
from ..log import get_logger
from ..provenance import git_commit, sha256_file, versions
from ..viz.cmf_plot import render_cmf, save_png
from .models import load_restorer

__all__ = ["infer_capture", "restore_capture", "write_png16_linear", "srgb8", "field_picture_scale"]

log = get_logger("infer")


def srgb8(lin_hwc: np.ndarray) -> np.ndarray:
    """(H, W, 3) linear [0, 1] -> uint8 display sRGB (rounded)."""
    x = np.clip(np.asarray(lin_hwc, dtype=np.float64), 0, 1)
    return np.round(np.clip(linear_to_srgb(x), 0, 1) * 255).astype(np.uint8)


def field_picture_scale(hwc: np.ndarray, side: int) -> int:
    """Integer magnification so that the 90th-percentile trajectory spans ~80 % of the glyph spacing (>= 1)."""
    from ..viz.cmf_plot import trajectories

    tr = trajectories(hwc[::4, ::4])
    span = float(np.percentile(np.linalg.norm(tr.max(axis=2) - tr.min(axis=2), axis=-1), 90))
    step = max(16, side // 10)
    return int(max(1, min(20, np.floor(0.8 * step / max(span, 1e-6)))))


def write_png16_linear(path: Path, lin_hwc: np.ndarray) -> Path:
    import cv2

    from ..io import atomic_open

    arr = np.round(np.clip(np.asarray(lin_hwc, dtype=np.float64), 0, 1) * 65535).astype(np.uint16)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr[..., ::-1]))
    if not ok:
        raise GyrobenchError(f"{path}: cannot encode the 16-bit PNG")
    with atomic_open(path, "wb") as fh:
        fh.write(buf.tobytes())
    return path


def restore_capture(net, cap, folder, *, field_options: dict | None = None, device: str = "cpu"):
    """``(restored (H, W, 3) linear float32, field (2M, h, w) CHW, decoding record, seconds)`` for one capture."""
    lin, decoding = linear_photo(cap, folder)
    opts = dict(field_options or {})
    field = capture_motion_field(cap, folder, pad_multiple=8, layout="chw", **opts)
    x = torch.from_numpy(lin).permute(2, 0, 1)[None].to(device)
    f = torch.from_numpy(np.ascontiguousarray(field, dtype=np.float32))[None].to(device)
    batch = {"blurred": x, "cmf_noisy": f, "cmf_clean": f, "alpha": 1.0}
    t0 = time.perf_counter()
    with torch.no_grad():
        out = net(batch)
    dt = time.perf_counter() - t0
    if out.shape != x.shape:
        raise GyrobenchError(f"model returned {tuple(out.shape)} for input {tuple(x.shape)}; it must crop its "
                             "padding away")
    restored = out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return restored, field, decoding, dt


def infer_capture(capture_dir: str | Path, out_dir: str | Path, *, checkpoint: str | Path | None = None,
                  model: str | None = None, model_options: dict | None = None, device: str = "cpu",
                  command: str | None = None, overwrite: bool = False) -> Path:
    """Restore the capture in ``capture_dir`` into ``out_dir``; returns the path of ``infer.json``.

    ``out_dir`` is a restored capture's folder (:mod:`gyrobench.folders`); one that already holds a restoration
    is refused unless ``overwrite``. Everything is checked (capture, model) before anything is written."""
    out = Path(out_dir)
    check_folder(out, "infer")
    if (out / "infer.json").is_file() and not overwrite:
        raise FolderError(f"--out {out}: already holds a restoration (infer.json); pass --overwrite to replace it, "
                          "or choose another --out")
    cap, folder = load_capture(capture_dir)
    net, info, field_opts = load_restorer(checkpoint, model=model, model_options=model_options, device=device)
    with claim(out, "infer"):
        return _infer(cap, folder, net, info, field_opts, out, model, device, command)


def _infer(cap, folder: Path, net, info: dict, field_opts: dict, out: Path, model, device, command) -> Path:
    restored, field, decoding, dt = restore_capture(net, cap, folder, field_options=field_opts, device=device)
    lin_in, _ = linear_photo(cap, folder)
    save_png(out / "restored_srgb.png", srgb8(restored))
    write_png16_linear(out / "restored_linear16.png", restored)
    save_png(out / "input_srgb.png", srgb8(lin_in))
    H, W = cap.height, cap.width
    hwc = np.ascontiguousarray(np.transpose(field, (1, 2, 0))[: -(-H // 2), : -(-W // 2)])
    glyph_scale = field_picture_scale(hwc, min(H, W))
    save_png(out / "field.png", render_cmf(hwc, srgb8(lin_in)[: hwc.shape[0] * 2, : hwc.shape[1] * 2],
                                           scale=glyph_scale, step=max(16, min(H, W) // 10),
                                           thickness=2)[:H, :W])
    record = {
        "format": "gyrobench-infer/1",
        "capture": str(folder),
        "capture_name": cap.name,
        "capture_json_sha256": sha256_file(folder / "capture.json"),
        "synthetic": bool(cap.source.get("synthetic", False)),
        "model": getattr(net, "name", model),
        "options": dict(getattr(net, "options", {}) or {}),
        "model_source": info["source"],
        "checkpoint": info["checkpoint"],
        "checkpoint_sha256": info["checkpoint_sha256"],
        "input": decoding,
        "field": {"kind": "camera motion field (docs/gyro.md), per-row exposure windows (rolling shutter)",
                  "M": int(field.shape[0] // 2), "readout_time_s": cap.readout_time_s,
                  "time_offset_ns": cap.time_offset_ns, "exposure_ns": cap.exposure_ns,
                  "pad_multiple": 8, "slots": "both field slots, alpha = 1", **field_opts},
        "outputs": {"restored_srgb": "restored_srgb.png (8-bit display sRGB)",
                    "restored_linear16": "restored_linear16.png (16-bit linear light)",
                    "input_srgb": "input_srgb.png",
                    "field_picture": f"field.png (trajectory glyphs magnified x{glyph_scale}, blue = exposure "
                                     "start, red = end)"},
        "inference_s": dt,
        "device": str(device),
        "command": command or " ".join(shlex.quote(a) for a in ["gyrobench", *sys.argv[1:]]),
        "versions": versions(),
        "git_commit": git_commit(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    path = write_text_atomic(out / "infer.json", json.dumps(record, indent=1) + "\n")
    log.info("infer %s: %s (%s) in %.2f s -> %s", cap.name, record["model"], decoding["image_encoding"], dt, out)
    return path
