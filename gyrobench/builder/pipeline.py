"""Dataset synthesis: recipe -> HDF5 shards + manifest (issue 4 items 1, 5, 6; docs/conventions.md §5).

Per sample (split ``s``, index ``n``):

1. RNG: ``np.random.SeedSequence([recipe.seed, split_key(s), n])`` spawns independent streams for the gyro
   window, the error-model draw and the degradation draw, so every sample depends only on (seed, split, index),
   never on the worker count, scheduling or resume (docs/conventions.md §5).
2. Image ``n % len(images)`` of the split (sorted), sRGB decoded to linear float32 and fitted to the full frame
   (:func:`gyrobench.builder.sources.load_linear_image`; too small -> ImageError naming the file).
3. Gyro window (recording window or fitted hand-shake draw) mapped to camera axes (``w @ R_imu_to_cam.T``).
4. Poses: ``substeps_for_max_step`` (>= 8 per raw interval, <= ``max_step_px`` px between warps, rsblur.md D2)
   and ``pose_homographies`` anchored at mid-exposure (spec gyrodeblurnet.md §1.2, §3.1), so the stored sharp
   crop is the motion field's anchor frame.
   With a rolling shutter (``exposure.readout_time_s > 0``) the window read in step 3 also covers the readout
   (:class:`gyrobench.builder.sources.GyroWindowSource`), and steps 4-5 run per band of 8 rows with the exposure
   window of the band's first full-frame row (:func:`gyrobench.gyro.rolling_shutter.band_windows`); the stored
   fields are then :func:`gyrobench.gyro.rolling_shutter.window_field` (per row, its own window) and every sample
   records ``readout_time_s`` (docs/datasets.md, "Rolling shutter").
5. Blur: every pose's warp of the full frame averaged in linear light, computed over the crop only
   (``renderer``: :func:`gyrobench.synth.render_cpu.render_blur_cpu` with OpenCV on the CPU, the torch
   :func:`gyrobench.synth.blur.render_blur` on a GPU; they agree to <= 1e-4; the renderer is recorded in every
   shard and the manifest); the saturation mask is the same average of the binary clipped-pixel mask of the
   sharp frame (rsblur.md §3.3, D3: linear value >= ``1 - 1e-6`` per channel).
6. Error-model draw (:class:`gyrobench.gyro.error_model.GyroErrorModel`), stored as ``err_*`` so the noisy
   field is recomputable.
7. ``offline`` splits: the degradation preset (:class:`gyrobench.synth.degrade.Degradation`) applied once with
   the sample's own generator; its draw stored as ``deg_*``. ``on_the_fly`` splits store the clean blur.
8. Quantisation (uint16 default) and write, one shard per task.

Parallelism is per shard: joblib (``workers``) locally, or the same function on a dask.distributed cluster
(``scheduler`` = address or ``distributed.Client``) through ``joblib.parallel_backend("dask")``. Shards are
written atomically; on rerun, complete shards whose attributes match the recipe are kept (resume).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch
from joblib import Parallel, delayed

from ..config import differences, from_dict
from ..data.manifest import FORMAT, content_fingerprint, write_json_atomic
from ..data.shards import SHARD_FORMAT, ShardWriter, quantize, read_shard_attrs, verify_shard
from ..device import resolve_device
from ..errors import GyrobenchError, ShardError
from ..folders import claim, write_marker
from ..gyro.cmf import FieldSpec
from ..gyro.error_model import ErrorDraw, GyroErrorModel
from ..gyro.recording import GyroRecording
from ..gyro.rolling_shutter import band_windows
from ..gyro.trajectory import pose_homographies, substeps_for_max_step
from ..gyro.window_fields import camera_rates, window_fields
from ..io import atomic_dir, require_space
from ..log import get_logger, progress
from ..provenance import git_commit, machine, sha256_file, versions
from ..synth.blur import pose_path_length_px, render_blur
from ..synth.degrade import Degradation
from ..synth.render_cpu import RENDERER_NAME, cv_threads, render_blur_cpu
from .card import CARD, write_card
from .recipe import Recipe, Split, load_recipe
from .seeding import sample_seedseq
from .sources import (
    GyroWindowSource,
    check_paths,
    file_sha256,
    images_for_split,
    list_images,
    load_linear_image,
)

log = get_logger("build.pipeline")

SAT_THRESHOLD_RSBLUR = 1.0  # render_blur compares with threshold - 1e-6

__all__ = ["synthesize", "shard_tasks", "make_shard", "synthesize_sample", "resolve_renderer", "renderer_label",
           "StageTimer", "RENDERERS", "sample_poses", "sample_window"]


# ------------------------------------------------------------------------------------------------ renderer
RENDERERS = ("auto", "opencv", "torch")


def resolve_renderer(renderer: str, device: str) -> str:
    """``auto`` -> ``opencv`` on the CPU, ``torch`` on an accelerator; ``opencv`` needs the CPU."""
    if renderer not in RENDERERS:
        raise GyrobenchError(f"renderer {renderer!r} unknown; use one of {', '.join(RENDERERS)}")
    if renderer == "auto":
        return "opencv" if str(device).startswith("cpu") else "torch"
    if renderer == "opencv" and not str(device).startswith("cpu"):
        raise GyrobenchError(f"renderer opencv runs on the CPU, not on {device}; use --renderer torch or auto")
    return renderer


def renderer_label(renderer: str) -> str:
    """What is recorded in shards and the manifest: the renderer, its warp precision and library version."""
    if renderer == "opencv":
        import cv2

        return f"{RENDERER_NAME} (uint16 warps, float32 sums; opencv {cv2.__version__})"
    return f"torch-grid_sample (float32; torch {torch.__version__})"


def _render(frame: np.ndarray, H: np.ndarray, crop, renderer: str, device: str) -> dict[str, np.ndarray]:
    """Blur + saturation mask (rsblur.md D3: per-channel clipped pixels of the sharp frame, warped and averaged
    with the same poses) as numpy HWC: ``blurred``, ``sharp``, ``sat_mask`` float32 and ``valid`` bool.
    ``opencv``: :func:`gyrobench.synth.render_cpu.render_blur_cpu`; ``torch``:
    :func:`gyrobench.synth.blur.render_blur` (agree to <= 1e-4, tests/test_render_cpu.py)."""
    if renderer == "opencv":
        return render_blur_cpu(frame, H, crop=crop, sat_threshold=SAT_THRESHOLD_RSBLUR)
    frame_t = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))[None].to(device)
    out = render_blur(frame_t, torch.from_numpy(H)[None].to(device), crop=crop, sat_threshold=SAT_THRESHOLD_RSBLUR)
    hwc = lambda t: np.ascontiguousarray(t[0].cpu().numpy().transpose(1, 2, 0))  # noqa: E731
    return {"blurred": hwc(out["blurred"]), "sharp": hwc(out["sharp"]), "sat_mask": hwc(out["sat_mask"]),
            "valid": out["valid"][0, 0].cpu().numpy() > 0.5}


class StageTimer:
    """Accumulates wall and process-CPU seconds per stage (``with timer("warp"): ...``); a no-op when None."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, name: str):
        return _Stage(self, name)


class _Stage:
    def __init__(self, timer, name):
        self.t, self.name = timer, name

    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.t.wall[self.name] = self.t.wall.get(self.name, 0.0) + time.perf_counter() - self.w0
        self.t.cpu[self.name] = self.t.cpu.get(self.name, 0.0) + time.process_time() - self.c0
        return False


def _stage(timer: StageTimer | None, name: str):
    return timer(name) if timer is not None else contextlib.nullcontext()


# ------------------------------------------------------------------------------------------- context
@dataclass
class _Context:
    """Per-process cache of what every sample of a recipe needs."""

    recipe: Recipe
    images: dict[str, list[Path]] = field(default_factory=dict)
    gyro: dict[str, Any] = field(default_factory=dict)
    degradation: Any = None
    error_model: Any = None
    _img_cache: dict = field(default_factory=dict)

    def image(self, path: Path) -> np.ndarray:
        key = str(path)
        if key not in self._img_cache:
            cam = self.recipe.camera
            x0, y0, w, h = cam.crop_box()
            if len(self._img_cache) >= 8:
                self._img_cache.pop(next(iter(self._img_cache)))
            self._img_cache[key] = load_linear_image(path, (cam.width, cam.height), (w, h), cam.image_fit)
        return self._img_cache[key]


_CONTEXTS: dict[str, _Context] = {}


def _context(recipe: Recipe, run_id: str = "") -> _Context:
    """The cached context of ``recipe`` for run ``run_id`` (a new run re-reads its sources: files may change)."""
    key = f"{recipe.sha256}:{run_id}"
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        ctx = _Context(recipe)
        all_imgs = list_images(recipe) if any(sp.images is None for sp in recipe.splits) else []
        for sp in recipe.splits:
            ctx.images[sp.name] = images_for_split(recipe, sp, all_imgs)
            ctx.gyro[sp.name] = GyroWindowSource(recipe, sp)
        if recipe.error_model is not None:
            ctx.error_model = from_dict(GyroErrorModel, dict(recipe.error_model),
                                        source=recipe.source_path or "<recipe>", prefix="error_model")
        _CONTEXTS.clear()
        _CONTEXTS[key] = ctx
    return ctx


def _degradation(ctx: _Context):
    if ctx.degradation is None:
        ctx.degradation = Degradation(ctx.recipe.degradation.preset)
    return ctx.degradation


def _draw_arrays(draw) -> dict[str, np.ndarray]:
    if draw is None:
        return {}
    if hasattr(draw, "to_arrays"):
        d = draw.to_arrays()
    elif dataclasses.is_dataclass(draw):
        d = dataclasses.asdict(draw)
    elif isinstance(draw, dict):
        d = draw
    else:
        return {}
    out = {}
    for k, v in d.items():
        if v is None:
            continue
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        if isinstance(v, str):
            out[k] = v
            continue
        arr = np.asarray(v)
        if arr.dtype.kind in "biuf":
            out[k] = arr
    return out


# ------------------------------------------------------------------------------------------- one sample
def sample_poses(recipe: Recipe, split: Split, index: int, run_id: str = ""):
    """Gyro window and blur poses of sample ``index`` (steps 1, 3, 4 of the module): ``(window, w_cam (S, 3)
    rad/s in camera axes, sub-steps per interval, H (P, 3, 3) anchor->pose homographies)``; global shutter only."""
    K = recipe.camera.K()
    if recipe.exposure.readout_time_s > 0:
        raise GyrobenchError(f"{recipe.source_path or recipe.name}: sample_poses gives the one pose set of a global "
                             "shutter, but exposure.readout_time_s > 0 (rolling shutter: one pose set per band of "
                             "rows, see build.pipeline._render_rolling); set exposure.readout_time_s: 0")
    win, w_cam = sample_window(recipe, split, index, run_id)
    n_sub, H = _poses(recipe, win.t_ns, w_cam, K)
    return win, w_cam, n_sub, H


def sample_window(recipe: Recipe, split: Split, index: int, run_id: str = ""):
    """Gyro window of sample ``index`` (``recipe.exposure.samples`` samples, plus the readout's with a rolling
    shutter) and its rates on the camera axes: ``(window, w_cam (N, 3) rad/s)``."""
    ctx = _context(recipe, run_id)
    ss_gyro = sample_seedseq(recipe.seed, split.name, index).spawn(3)[0]
    win = ctx.gyro[split.name].window(index, np.random.default_rng(ss_gyro))
    return win, camera_rates(win.w, win.R_imu_to_cam)


def _poses(recipe: Recipe, t_ns, w_cam, K) -> tuple[int, np.ndarray]:
    """Sub-steps (>= min_per_interval, <= max_step_px between warps over the full frame) and the anchor->pose
    homographies anchored at mid-exposure of one exposure window ``t_ns`` (S,), ``w_cam`` (S, 3) rad/s."""
    cam, sub = recipe.camera, recipe.substeps
    n_sub = substeps_for_max_step(t_ns, w_cam, K, (cam.height, cam.width), max_step_px=sub.max_step_px,
                                  min_substeps=sub.min_per_interval, max_substeps=sub.max_per_interval,
                                  M=recipe.storage.cmf_segments)
    H, _tau = pose_homographies(t_ns, w_cam, K, substeps=n_sub, anchor="mid", M=recipe.storage.cmf_segments)
    return n_sub, H


def _render_rolling(recipe: Recipe, frame: np.ndarray, t_ns, w_cam, K, crop, renderer: str, device: str):
    """Rolling-shutter blur (``exposure.readout_time_s > 0``) of the crop: bands of 8 rows, each rendered with the
    poses (:func:`_poses`) of its own exposure window, the window of the band's first full-frame row
    (:func:`gyrobench.gyro.rolling_shutter.band_windows`, the same bands as
    :func:`gyrobench.synth.blur.render_rolling_shutter`). ``t_ns``/``w_cam``: the whole stored window (exposure
    + readout); the exposure is its first ``exposure.samples`` samples. Returns :func:`_render`'s dict plus
    ``substeps`` and ``n_poses`` (the largest over the bands) and ``blur_extent_px`` (the band at the crop centre)."""
    cam = recipe.camera
    S = recipe.exposure.samples
    t_ns = np.asarray(t_ns, dtype=np.int64)
    rec = GyroRecording(t_ns, w_cam, np.eye(3), "gyro window")
    x0, y0, cw, ch = crop
    bands, ts, ws = band_windows(rec, int(t_ns[0]), int(t_ns[S - 1] - t_ns[0]), crop,
                                 readout_time_s=recipe.exposure.readout_time_s, frame_height=cam.height, samples=S)
    parts, n_sub, n_poses, extent = [], 0, 0, 0.0
    centre = (x0 + (cw - 1) / 2, y0 + (ch - 1) / 2)
    for (by, bh), tb, wb in zip(bands, ts, ws):
        sub, H = _poses(recipe, tb, wb, K)
        parts.append(_render(frame, H, (x0, by, cw, bh), renderer, device))
        n_sub, n_poses = max(n_sub, sub), max(n_poses, H.shape[0])
        if by <= centre[1] < by + bh:
            extent = pose_path_length_px(H, centre)
    out = {k: np.concatenate([p[k] for p in parts], axis=0) for k in ("blurred", "sharp", "sat_mask", "valid")}
    out.update(substeps=n_sub, n_poses=n_poses, blur_extent_px=extent)
    return out


def synthesize_sample(recipe: Recipe, split: Split, index: int, run_id: str = "", device: str = "cpu",
                      renderer: str = "auto", timer: StageTimer | None = None) -> dict[str, Any]:
    """Make sample ``index`` of ``split`` as a dict of arrays ready for :class:`ShardWriter` (see module).

    ``device``: torch device of the warps and the degradation ("cpu", "cuda"); results are reproducible per
    device type and renderer (docs/conventions.md §5). ``renderer``: see :func:`resolve_renderer`. ``timer``: a
    :class:`StageTimer` that receives the decode / poses / warp / degrade / pack seconds."""
    renderer = resolve_renderer(renderer, device)
    ctx = _context(recipe, run_id)
    cam = recipe.camera
    x0, y0, cw, ch = cam.crop_box()
    K = cam.K()
    ss = sample_seedseq(recipe.seed, split.name, index)
    _, ss_err, ss_deg = ss.spawn(3)

    imgs = ctx.images[split.name]
    img_path = imgs[index % len(imgs)]
    with _stage(timer, "decode"):
        frame = ctx.image(img_path)  # (H, W, 3) float32 linear

    readout = recipe.exposure.readout_time_s
    with _stage(timer, "poses"):
        if readout > 0:
            win, w_cam = sample_window(recipe, split, index, run_id)
        else:
            win, w_cam, n_sub, H = sample_poses(recipe, split, index, run_id)

    with _stage(timer, "warp"):
        if readout > 0:
            out = _render_rolling(recipe, frame, win.t_ns, w_cam, K, (x0, y0, cw, ch), renderer, device)
        else:
            out = _render(frame, H, (x0, y0, cw, ch), renderer, device)
    blurred = out["blurred"]

    sample: dict[str, Any] = {}
    if ctx.error_model is not None:
        draw = ctx.error_model.draw(np.random.default_rng(ss_err), len(win.t_ns), K=K)
        for k, v in _draw_arrays(draw).items():
            sample[f"err_{k}"] = v

    if split.degradation == "offline":
        with _stage(timer, "degrade"):
            deg = _degradation(ctx).to(device)
            gen = torch.Generator(device=device).manual_seed(
                int(ss_deg.generate_state(1, np.uint64)[0] & ((1 << 63) - 1)))
            chw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].to(device)  # noqa: E731
            with torch.no_grad():
                res = deg(chw(blurred), sat_mask=chw(out["sat_mask"]), generator=gen)
            deg_t, ddraw = res if isinstance(res, tuple) else (res, None)
            blurred = deg_t[0].cpu().numpy().transpose(1, 2, 0)
            for k, v in _draw_arrays(ddraw).items():
                sample[f"deg_{k}"] = v

    dtype, bits = recipe.storage.dtype, recipe.storage.bits
    with _stage(timer, "quantize"):
        sample["sharp"] = quantize(out["sharp"], dtype, bits)
        sample["blurred"] = quantize(blurred, dtype, bits)
        sample["sat_mask"] = quantize(out["sat_mask"], "uint8")
        sample["valid"] = out["valid"].astype(np.uint8)
    K_crop = K.copy()
    K_crop[0, 2] -= x0
    K_crop[1, 2] -= y0
    sample.update({
        "gyro_t_ns": win.t_ns.astype(np.int64),
        "gyro_w": win.w.astype(np.float64),
        "R_imu_to_cam": win.R_imu_to_cam.astype(np.float64),
        "K": K,
        "K_crop": K_crop,
        "frame_size": np.array([cam.width, cam.height], dtype=np.int64),
        "crop": np.array([x0, y0, cw, ch], dtype=np.int64),
        "exposure_ns": np.int64(win.t_ns[recipe.exposure.samples - 1] - win.t_ns[0]),
        "n_poses": np.int32(out["n_poses"] if readout > 0 else H.shape[0]),
        "substeps": np.int32(out["substeps"] if readout > 0 else n_sub),
        "window_start": np.int64(win.start),
        "blur_extent_px": np.float32(out["blur_extent_px"] if readout > 0 else
                                     pose_path_length_px(H, (x0 + (cw - 1) / 2, y0 + (ch - 1) / 2))),
        "sample_id": f"{split.name}-{index:06d}",
        "sample_index": np.int64(index),
        "rng_key": np.array(ss.entropy, dtype=np.uint64),
        "source_image": img_path.name,
        "source_sha256": file_sha256(str(img_path)),
    })
    if readout > 0:  # recorded only for a rolling shutter, so global-shutter shards keep their bytes
        sample["readout_time_s"] = np.float64(readout)
    if recipe.storage.store_cmf == "float16":
        with _stage(timer, "fields"):
            sample.update(_fields(recipe, win.t_ns, w_cam, K, (x0, y0, cw, ch), ctx, sample))
    return sample


def field_spec(recipe: Recipe) -> FieldSpec:
    """The spec of the recipe's motion fields (stored, or recomputed by loaders): official, M = cmf_segments."""
    return FieldSpec(M=recipe.storage.cmf_segments)


def _fields(recipe, t_ns, w_cam, K, crop, ctx, sample) -> dict[str, np.ndarray]:
    """The stored fields (``storage.store_cmf: float16``) of a sample, HWC: :func:`window_fields` of its window
    with its own error-model draw (``err_*``); ``cmf_noisy`` is a copy of ``cmf_clean`` without a draw."""
    draws = {k[4:]: v for k, v in sample.items() if k.startswith("err_")}
    readout = recipe.exposure.readout_time_s
    clean, noisy = window_fields(t_ns, w_cam, K, draw=ErrorDraw.from_arrays(draws) if draws else None,
                                 readout_time_s=readout, exposure_ns=int(sample["exposure_ns"]),
                                 frame_height=recipe.camera.height, crop=crop, layout="hwc", dtype=np.float32,
                                 **field_spec(recipe).kwargs())
    out = {"cmf_clean": clean.astype(np.float16)}
    out["cmf_noisy"] = np.asarray(noisy).astype(np.float16) if draws else out["cmf_clean"].copy()
    return out


# ------------------------------------------------------------------------------------------- shards
def shard_tasks(recipe: Recipe, limit: int | None = None) -> list[dict]:
    """Split the recipe into shard tasks ``{file, split, shard, first, count}`` (numbered over all splits)."""
    tasks = []
    k = 0
    size = recipe.storage.shard_size
    for sp in recipe.splits:
        n = sp.size if limit is None else min(sp.size, int(limit))
        for first in range(0, n, size):
            tasks.append({"file": f"shard-{k:05d}.h5", "split": sp.name, "shard": k, "first": first,
                          "count": min(size, n - first)})
            k += 1
    return tasks


def _shard_attrs(recipe: Recipe, task: dict, renderer: str = "opencv") -> dict:
    sp = next(s for s in recipe.splits if s.name == task["split"])
    return {
        "renderer": renderer_label(renderer),
        "format": SHARD_FORMAT,
        "split": task["split"],
        "shard_index": task["shard"],
        "first_index": task["first"],
        "recipe_name": recipe.name,
        "recipe_sha256": recipe.sha256,
        "recipe": recipe.text,
        "seed": recipe.seed,
        "colour_space": "linear sRGB primaries (Rec. 709), D65 white",
        "transfer": "linear",
        "image_dtype": recipe.storage.dtype,
        "significant_bits": recipe.storage.bits or (16 if recipe.storage.dtype == "uint16" else 8),
        "degradation": f"{sp.degradation}:{recipe.degradation.preset}",
        "degradation_note": ("applied and stored (draws in deg_*)" if sp.degradation == "offline" else
                             "clean blur stored; apply the preset on the fly with sat_mask"),
        "anchor": "mid-exposure pose (sharp = motion-field anchor frame)",
        "field_spec": field_spec(recipe).to_dict(),
        "versions": versions(),
    }


def _existing_ok(path: Path, recipe: Recipe, task: dict, renderer: str = "opencv") -> bool:
    """A shard from an earlier run is kept only if complete, fully decodable and made by this recipe/task with
    the same renderer (a resumed dataset never mixes renderers)."""
    if not path.is_file():
        return False
    try:
        attrs = read_shard_attrs(path)
        verify_shard(path, samples=task["count"], decode=True)
    except ShardError:
        log.info("%s: incomplete or corrupt shard from an earlier run; redoing it", path)
        return False
    return (attrs.get("complete") == 1 and attrs.get("recipe_sha256") == recipe.sha256
            and int(attrs.get("samples", -1)) == task["count"] and int(attrs.get("first_index", -1)) == task["first"]
            and attrs.get("split") == task["split"] and attrs.get("renderer") == renderer_label(renderer))


def _sample_bytes(sample: dict) -> int:
    """Uncompressed bytes of one sample's arrays (an upper bound of what its shard rows take)."""
    return sum(np.asarray(v).nbytes for v in sample.values() if not isinstance(v, str)) + 4096


def make_shard(recipe: Recipe, task: dict, out_dir: str | Path, threads: int | None = None, run_id: str = "",
               device: str = "cpu", renderer: str = "auto", timer: StageTimer | None = None,
               on_sample=None) -> dict:
    """Write one shard (or keep a complete, matching one) and return its manifest entry.

    ``threads``: torch and OpenCV threads of this process (1 in every worker of a parallel run); the bytes
    written do not depend on it. ``on_sample(n)`` is called as samples are done (progress; in-process runs)."""
    out_dir = Path(out_dir)
    path = out_dir / task["file"]
    renderer = resolve_renderer(renderer, device)
    if threads:
        torch.set_num_threads(int(threads))
    if _existing_ok(path, recipe, task, renderer):
        status = "kept"
        if on_sample is not None:
            on_sample(task["count"])
    else:
        sp = next(s for s in recipe.splits if s.name == task["split"])
        st = recipe.storage
        with cv_threads(threads), ShardWriter(path, task["count"], _shard_attrs(recipe, task, renderer),
                                              compression=st.compression,
                                              compression_level=st.compression_level) as wr:
            for i in range(task["first"], task["first"] + task["count"]):
                sample = synthesize_sample(recipe, sp, i, run_id, device, renderer, timer)
                if i == task["first"]:  # HDF5 cannot fail cleanly on a full disk: ask for the room first
                    require_space(path, _sample_bytes(sample) * task["count"])
                with _stage(timer, "write"):
                    wr.add(sample)
                if on_sample is not None:
                    on_sample(1)
        status = "written"
    return {"file": task["file"], "sha256": sha256_file(path), "bytes": path.stat().st_size,
            "samples": task["count"], "split": task["split"], "first_index": task["first"], "_status": status}


def _cleanup_tmp(out_dir: Path) -> None:
    for p in out_dir.glob(".shard-*.h5.tmp-*"):
        p.unlink(missing_ok=True)


def _run_tasks(recipe, tasks, out_dir, workers, scheduler, device="cpu", renderer="auto", on_sample=None,
               run_id: str | None = None):
    run_id = run_id or uuid.uuid4().hex
    jobs = [delayed(make_shard)(recipe, t, str(out_dir), 1 if (workers > 1 or scheduler) else None, run_id, device,
                                renderer)
            for t in tasks]
    if scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise GyrobenchError("--scheduler needs dask.distributed: pip install 'gyrobench[dist]'") from exc
        own = not isinstance(scheduler, Client)
        try:
            client = Client(scheduler, timeout="10s") if own else scheduler
        except (OSError, TimeoutError) as exc:
            raise GyrobenchError(f"--scheduler {scheduler}: cannot connect to a dask scheduler there ({exc}); start "
                                 "one (dask scheduler) or check the address") from exc
        try:
            with joblib.parallel_backend("dask", client=client):
                return list(Parallel(n_jobs=-1)(jobs))
        finally:
            if own:
                client.close()
    if workers <= 1:
        return (make_shard(recipe, t, out_dir, None, run_id, device, renderer, on_sample=on_sample) for t in tasks)
    return Parallel(n_jobs=workers, backend="loky", return_as="generator")(jobs)


def _recorded_recipe(out_dir: Path) -> tuple[dict | None, str]:
    """The recipe that made the dataset in ``out_dir`` (``(manifest or None, where)``): from ``manifest.json``
    (a finished dataset), else from the first readable shard (an interrupted run); ``({}, "")`` if none."""
    path = out_dir / "manifest.json"
    if path.is_file():
        try:
            man = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            man = None
        if isinstance(man, dict):
            return {**man, "renderer": (man.get("created") or {}).get("renderer")}, "a finished dataset"
    for shard in sorted(out_dir.glob("shard-*.h5")):
        try:
            attrs = read_shard_attrs(shard)
        except (ShardError, OSError):
            continue
        return ({"recipe": attrs.get("recipe"), "recipe_sha256": attrs.get("recipe_sha256"), "limit": "unknown",
                 "renderer": attrs.get("renderer")}, "an interrupted run")
    return None, ""


def _recipe_differences(recorded: dict, recipe: Recipe, limit: int | None, renderer: str) -> list[str]:
    """How ``recipe`` (and ``limit``, ``renderer``) differ from what made the folder's dataset (dotted keys)."""
    diffs = []
    if recorded.get("recipe_sha256") != recipe.sha256:
        try:
            import yaml

            old = from_dict(Recipe, yaml.safe_load(recorded.get("recipe") or "") or {}, source="<recorded>")
            diffs = differences(old.to_dict(), recipe.to_dict(), opaque=("error_model",))
        except (GyrobenchError, ValueError, TypeError, AttributeError):
            diffs = []
        diffs = diffs or [f"recipe_sha256: {str(recorded.get('recipe_sha256'))[:12]}... -> {recipe.sha256[:12]}..."]
    if recorded.get("limit", limit) not in ("unknown", limit):
        diffs.append(f"limit: {recorded.get('limit')!r} -> {limit!r}")
    if recorded.get("renderer") and recorded["renderer"] != renderer_label(renderer):
        diffs.append(f"renderer: {recorded['renderer']!r} -> {renderer_label(renderer)!r}")
    return diffs


def synthesize(recipe: Recipe | str | Path, out_dir: str | Path, workers: int = 1, scheduler=None,
               limit: int | None = None, command: str | None = None, device: str = "cpu",
               renderer: str = "auto", overwrite: bool = False, made_by: str | None = None) -> dict:
    """Synthesize ``recipe`` into ``out_dir`` (``manifest.json`` + shards, and the dataset card ``README.md``,
    :mod:`gyrobench.builder.card`, which is not part of the data) and return the manifest dict.

    ``workers``: joblib processes (shard-level parallelism). ``scheduler``: a dask.distributed scheduler address
    or Client; shards then run on that cluster. ``limit``: at most this many samples per split (quick runs;
    recorded in the manifest). ``renderer``: ``auto`` (OpenCV on the CPU, torch on a GPU), ``opencv`` or
    ``torch``; recorded in every shard and in the manifest.

    The folder belongs to one dataset (issue 13): if it holds a dataset, finished or interrupted, made from
    another recipe (or seed, ``limit`` or renderer), the run is refused with the differences, unless
    ``overwrite``. The same recipe and renderer resume, with or without ``overwrite``: complete shards are verified
    and kept, the rest redone; a finished, intact dataset is left as it is (not even its manifest is rewritten).
    ``overwrite`` builds a dataset of another recipe in a temporary folder beside ``out_dir`` and swaps it in at
    the end (:func:`gyrobench.io.atomic_dir`), so a kill leaves the old dataset whole.

    Ownership (:mod:`gyrobench.folders`): ``out_dir`` must be missing, empty or a dataset folder (its marker, or
    a manifest and shards only); another process synthesizing into it is refused at once, and ``overwrite``
    refuses a folder that also holds files synth did not make. ``made_by`` is recorded in the folder's marker
    (default ``gyrobench synth``). A disk too full for the next shard is refused before it is written
    (:func:`gyrobench.io.require_space`).
    """
    device = str(resolve_device(device))
    renderer = resolve_renderer(renderer, device)
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    out_dir = Path(out_dir)
    check_paths(recipe)  # a path outside the recipe's folder, an unset ${VAR}: refused before any work
    run_id = uuid.uuid4().hex
    _context(recipe, run_id)  # the sources read and checked (images listed, gyro read) before any work
    # the folder is a dataset's (gyrobench.folders): --overwrite, which swaps in a new folder, refuses a folder
    # holding anything synth did not make; the lock keeps a second synth process out
    with claim(out_dir, "dataset", replace=overwrite, marker=False, made_by=made_by):
        recorded, what = _recorded_recipe(out_dir) if out_dir.is_dir() else (None, "")
        if recorded is not None:
            diffs = _recipe_differences(recorded, recipe, limit, renderer)
            if diffs and not overwrite:
                raise ShardError(f"{out_dir}: holds {what} made from a different recipe ({'; '.join(diffs[:6])}"
                                 f"{'; ...' if len(diffs) > 6 else ''}); pass --overwrite to replace it, or choose a "
                                 "new --out folder")
            if diffs:  # and overwrite; the same recipe always resumes (a rebuild would give the same bytes)
                log.info("synth: --overwrite: building the new dataset beside %s, swapped in when complete", out_dir)
                with atomic_dir(out_dir) as tmp:
                    write_marker(tmp, "dataset", made_by)
                    manifest = _synthesize_into(recipe, tmp, workers, scheduler, limit, command, device, renderer,
                                                shown_as=out_dir, run_id=run_id)
                return manifest
        write_marker(out_dir, "dataset", made_by)
        return _synthesize_into(recipe, out_dir, workers, scheduler, limit, command, device, renderer,
                                shown_as=out_dir, run_id=run_id)


def _synthesize_into(recipe: Recipe, out_dir: Path, workers, scheduler, limit, command, device, renderer,
                     shown_as: Path, run_id: str | None = None) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    _cleanup_tmp(out_dir)
    tasks = shard_tasks(recipe, limit)
    stale = {p.name for p in out_dir.glob("shard-*.h5")} - {t["file"] for t in tasks}
    if stale:
        raise ShardError(f"{shown_as}: holds shards not in this recipe's plan ({sorted(stale)[:3]}...); use an empty "
                         "--out folder (or the one made by this same recipe), or pass --overwrite")
    if not os.access(out_dir, os.W_OK):
        raise ShardError(f"{shown_as}: folder is not writable; choose another --out")
    try:
        previous = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    log.info("synth %s: %d samples in %d shards -> %s (workers=%s, renderer=%s%s)", recipe.name,
             sum(t["count"] for t in tasks), len(tasks), shown_as, workers, renderer,
             f", scheduler={scheduler}" if scheduler is not None else "")
    t0 = time.perf_counter()
    entries = []
    kept = 0
    # progress in samples: per sample in this process, per finished shard from worker processes or a cluster
    bar = progress(total=sum(t["count"] for t in tasks), desc=f"synth {recipe.name}", unit="sample")
    live = int(workers) <= 1 and scheduler is None
    for entry in _run_tasks(recipe, tasks, out_dir, int(workers), scheduler, device, renderer, run_id=run_id,
                            on_sample=bar.update if live else None):
        kept += entry.pop("_status") == "kept"
        entries.append(entry)
        if not live:
            bar.update(entry["samples"])
    bar.close()
    entries.sort(key=lambda e: e["file"])
    if kept == len(entries) and isinstance(previous, dict) and previous.get("shards") == entries \
            and previous.get("recipe_sha256") == recipe.sha256 and previous.get("limit") == limit \
            and (previous.get("created") or {}).get("renderer") == renderer_label(renderer):
        log.info("synth %s: %s is already complete and intact (%d shards verified); nothing rewritten", recipe.name,
                 shown_as, len(entries))
        write_card(out_dir, previous, recipe)  # written only when missing or stale (documentation, not data)
        return previous
    n = sum(e["samples"] for e in entries)
    dt = time.perf_counter() - t0
    log.info("synth %s: %d samples, %d shards (%d kept from an earlier run) in %.1f s (%.2f samples/s)",
             recipe.name, n, len(entries), kept, dt, n / max(dt, 1e-9))
    splits = {}
    for sp in recipe.splits:
        mine = [e for e in entries if e["split"] == sp.name]
        splits[sp.name] = {"samples": sum(e["samples"] for e in mine), "shards": len(mine),
                           "degradation": sp.degradation, "preset": recipe.degradation.preset}
    manifest = {
        "format": FORMAT,
        "name": recipe.name,
        "recipe": recipe.text,
        "recipe_sha256": recipe.sha256,
        "seed": recipe.seed,
        "limit": limit,
        "versions": versions(),
        "image": {"dtype": recipe.storage.dtype, "colour_space": "linear sRGB primaries (Rec. 709), D65 white",
                  "transfer": "linear", "layout": "HWC"},
        "splits": splits,
        "shards": entries,
        "fingerprint": None,
        "created": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_commit": git_commit(),
                    "machine": machine(), "command": command or "", "workers": workers, "device": device,
                    "renderer": renderer_label(renderer),
                    "seconds": round(dt, 3)},
    }
    manifest["fingerprint"] = content_fingerprint(manifest)
    write_json_atomic(out_dir / "manifest.json", manifest)
    write_card(out_dir, manifest, recipe)
    log.info("manifest: %s (%s); dataset card: %s", shown_as / "manifest.json",
             json.dumps({k: v["samples"] for k, v in splits.items()}), shown_as / CARD)
    return manifest

