"""On-the-fly synthesis in the loader: a fresh sample for every draw (issue 9 item 3).

``OnTheFlyDataset(OnlineSection(...), crop=128, seed=...)`` (the settings: ``data.online`` of a training config,
:class:`gyrobench.train.online.OnlineSection`) yields the same per-sample dict as
:class:`gyrobench.data.dataset.ShardDataset` (``blurred`` clean blur, ``sharp``, ``sat_mask``, ``cmf_clean``,
``cmf_noisy``, ``meta``), rendered at crop size when it is asked for, so a CPU run never sees the same sample twice:
new images (procedural dead leaves, or files of a folder / the packaged Kodak images) and new hand-shake windows
(the fitted generator or a recording, rates scaled by the sampler's own ``strength``: it replaces the recipe's gyro
``strength``, it does not multiply it).

Same code as the stored path (``gyrobench synth``), from the recipe named by ``recipe`` (camera, exposure samples,
sub-steps, error model, field segments M, gyro source of the first split): gyro window (scaled once, by
:meth:`~gyrobench.builder.sources.GyroWindowSource.window`) -> camera axes -> ``substeps_for_max_step``
on the *full* frame -> ``pose_homographies`` (anchor mid-exposure) -> the stored path's CPU renderer
(:func:`gyrobench.synth.render_cpu.render_blur_cpu` through ``build.pipeline._render``) with the saturation mask
(threshold 1.0, rsblur.md D3) -> the clean and noisy fields of
:func:`gyrobench.gyro.window_fields.window_fields` (the stored path's and the dataset reader's function) with the
error-model draw. The degradation (noise etc.) is applied per batch by the trainer, exactly as for an
``on_the_fly`` stored split. Differences: no uint16 quantisation of the images; images are rendered from a patch.

Rendering at crop size: the crop is a window ``(ox, oy, c, c)`` (even offsets, inside the camera frame) of a
virtual full frame. Only a patch of the frame, the crop plus a margin ``m`` on every side (``m`` = the largest
displacement of the crop's corners and centre over the exposure's poses, + 2 px, even), is made (a dead-leaves
image of that size, or that window of the image file), and the intrinsics are shifted to the patch,
``cx' = cx - (ox - m)``, ``cy' = cy - (oy - m)``. A rotation homography ``K' R K'^-1`` is the full-frame one
conjugated by the shift, so the blur, the fields and the saturation mask equal those of the full frame cropped at
``(ox, oy)`` (tested against a full-frame render). ``meta["K"]`` is ``K'`` and ``meta["crop"]`` the crop inside the
patch, the convention of the stored dataset.

Draws: sample ``i`` is a pure function of ``(seed, i)``: ``SeedSequence([seed, 0x6F746631, i])`` spawns the
streams of the image, the gyro window, the error-model draw, the crop position and the strength.
:meth:`OnTheFlyDataset.describe` returns those draws (image, window seed, strength, position). The dataset is as long as the run
(``size``, default steps x batch), so with the trainer's sampler every index, hence every sample, is used once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..assets import kodak_paths
from ..config import from_dict
from ..errors import ImageError, RecipeError
from ..gyro.error_model import GyroErrorModel
from ..gyro.trajectory import pose_homographies, substeps_for_max_step
from ..gyro.window_fields import camera_rates, window_fields
from ..log import get_logger
from ..synth.blur import pose_path_length_px
from ..synth.deadleaves import DeadLeavesParams, dead_leaves_linear
from .pipeline import _render
from .recipe import load_recipe
from .sources import GyroWindowSource, load_linear_image

__all__ = ["OnTheFlyDataset", "crop_margin", "shifted_K", "dihedral"]

log = get_logger("build.onthefly")

_KEY = 0x6F746631  # "otf1"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def shifted_K(K: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """Intrinsics of the window of the frame whose top-left pixel is ``(x0, y0)``: ``cx - x0``, ``cy - y0``."""
    K2 = np.array(K, dtype=np.float64, copy=True)
    K2[0, 2] -= x0
    K2[1, 2] -= y0
    return K2


def crop_margin(H: np.ndarray, crop: tuple[int, int, int, int]) -> float:
    """Largest displacement (px) of the crop's corners and centre under the poses ``H`` (P, 3, 3) and their
    inverses: how far outside the crop the blur reads the sharp frame."""
    x0, y0, w, h = crop
    xs, ys = (x0, x0 + (w - 1) / 2, x0 + w - 1), (y0, y0 + (h - 1) / 2, y0 + h - 1)
    pts = np.array([[x, y, 1.0] for y in ys for x in xs]).T  # (3, 9)
    worst = 0.0
    for mats in (H, np.linalg.inv(H)):
        q = mats @ pts
        p = q[:, :2] / q[:, 2:]
        worst = max(worst, float(np.abs(p - pts[None, :2]).max()))
    return worst


def dihedral(img: np.ndarray, code: int) -> np.ndarray:
    """One of the 8 flips and 90-degree rotations of an HWC (or HW) image, as a view.

    ``code`` in [0, 8): bit 2 transposes (swaps rows and columns; shape-preserving only for a square image), then
    bit 0 flips left-right and bit 1 flips up-down. Codes 0-3 keep the shape of any image.
    """
    if not 0 <= int(code) < 8:
        raise ValueError(f"dihedral code {code}: must be in [0, 8)")
    if code & 4:
        img = img.swapaxes(0, 1)
    if code & 1:
        img = img[:, ::-1]
    if code & 2:
        img = img[::-1]
    return img


class OnTheFlyDataset(torch.utils.data.Dataset):
    """Fresh synthetic samples at crop size (module docstring). ``online``: the settings, a
    :class:`gyrobench.train.online.OnlineSection` (read for its attributes; the class lives with the training
    config it belongs to). ``fields=False`` skips the motion fields."""

    def __init__(self, online, crop: int, seed: int = 0, *, size: int | None = None,
                 fields: bool = True, segments: int | None = None):
        if crop is None or crop <= 0 or crop % 8:
            raise RecipeError(f"data.crop={crop}: on-the-fly synthesis needs a positive crop, a multiple of 8")
        self.online = online
        self.crop = int(crop)
        self.seed = int(seed)
        self.fields = bool(fields)
        self.size = int(online.size or size or 0)
        if self.size <= 0:
            raise RecipeError("data.online.size: give the number of samples per epoch (or train in steps, which "
                              "sets it to steps x batch)")
        try:
            self.recipe = load_recipe(online.recipe)
        except RecipeError as exc:
            raise RecipeError(f"data.online.recipe={online.recipe!r}: {exc}") from exc
        if self.recipe.exposure.readout_time_s > 0:
            raise RecipeError(f"data.online.recipe={online.recipe!r}: exposure.readout_time_s="
                              f"{self.recipe.exposure.readout_time_s:g} (rolling shutter) is supported by the stored "
                              "path only (gyrobench synth, then data.root); set exposure.readout_time_s: 0 for "
                              "on-the-fly synthesis")
        names = [sp.name for sp in self.recipe.splits]
        gyro_split = getattr(online, "gyro_split", None)
        if gyro_split is not None and gyro_split not in names:
            raise RecipeError(f"data.online.gyro_split={gyro_split!r}: recipe {online.recipe!r} has no such split; "
                              f"its splits: {', '.join(names)}")
        #: the recipe split whose gyro source the samples are drawn from (data.online.gyro_split; default the first)
        self.gyro_split = self.recipe.splits[names.index(gyro_split) if gyro_split is not None else 0]
        cam = self.recipe.camera
        if self.crop > min(cam.width, cam.height):
            raise RecipeError(f"data.crop={crop} is larger than the {cam.width}x{cam.height} frame of recipe "
                              f"{online.recipe!r}; lower data.crop")
        self.K = cam.K()
        # segments per field: the recipe's, or the model's (data.motion_field.M; the M ablation of spec §7)
        self.M = int(segments if segments is not None else self.recipe.storage.cmf_segments)
        self._paths = None if online.images == "builtin:deadleaves" else self._image_paths(online)
        self._dl_params = None
        if self._paths is None or online.deadleaves_fraction > 0:
            self._dl_params = DeadLeavesParams(**online.deadleaves)
        self._gyro = None
        self._error_model = None
        self._cache: dict[str, np.ndarray] = {}
        self.epoch = 0

    # ------------------------------------------------------------------ sources
    @staticmethod
    def _image_paths(online) -> list[Path]:
        if online.images == "builtin:kodak":
            paths = list(kodak_paths())
        else:
            folder = Path(online.images).expanduser()
            if not folder.is_dir():
                raise ImageError(f"data.online.images={online.images}: not a folder (or builtin:deadleaves / "
                                 "builtin:kodak); give a folder of sRGB images")
            paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if online.image_range is not None:
            a, b = online.image_range
            paths = paths[a:b]
        if not paths:
            raise ImageError(f"data.online.images={online.images} (image_range {online.image_range}): no image; "
                             "fix the folder or the range")
        return paths

    def _gyro_source(self):
        if self._gyro is None:
            self._gyro = GyroWindowSource(self.recipe, self.gyro_split)
            if self.recipe.error_model is not None:
                self._error_model = from_dict(GyroErrorModel, dict(self.recipe.error_model),
                                              source=str(self.online.recipe), prefix="error_model")
        return self._gyro

    def _image(self, path: Path) -> np.ndarray:
        key = str(path)
        img = self._cache.get(key)
        if img is None:
            cam = self.recipe.camera
            img = load_linear_image(path, (cam.width, cam.height), (self.crop, self.crop), cam.image_fit)
            if len(self._cache) >= 16:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = img
        return img

    # ------------------------------------------------------------------ dataset protocol
    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _streams(self, index: int):
        ss = np.random.SeedSequence([self.seed, _KEY, self.epoch, int(index)])
        # a sixth stream for the dihedral draw: SeedSequence.spawn gives the same first five children either way
        return ss, [np.random.default_rng(s) for s in ss.spawn(6)]

    def describe(self, index: int) -> dict:
        """The draws of sample ``index`` (without rendering): image, gyro window seed, strength, crop position."""
        return self._draw(index)[0]

    def _draw(self, index: int):
        ss, (r_img, r_gyro, r_err, r_pos, r_str, r_aug) = self._streams(index)
        o, cam = self.online, self.recipe.camera
        strength = o.strength if o.strength_max is None else float(r_str.uniform(o.strength, o.strength_max))
        win = self._gyro_source().window(int(index), r_gyro, strength=strength)  # the sampler's strength only
        c = self.crop
        ox = int(r_pos.integers(0, (cam.width - c) // 2 + 1)) * 2
        oy = int(r_pos.integers(0, (cam.height - c) // 2 + 1)) * 2
        # the mixture draws only when its fraction is above 0, so other runs keep their draws
        procedural = self._paths is None or (o.deadleaves_fraction > 0
                                             and float(r_img.random()) < o.deadleaves_fraction)
        image = "deadleaves" if procedural else self._paths[int(r_img.integers(len(self._paths)))].name
        info = {"index": int(index), "seed": self.seed, "epoch": self.epoch, "rng_key": [int(v) for v in ss.entropy],
                "image": image, "strength": float(strength), "position": (ox, oy), "window_start": int(win.start)}
        if o.dihedral and not procedural:
            info["dihedral"] = int(r_aug.integers(8 if cam.width == cam.height else 4))
        return info, (r_img, r_err, win)

    def __getitem__(self, index: int) -> dict:
        info, (r_img, r_err, win) = self._draw(index)
        cam, sub, c = self.recipe.camera, self.recipe.substeps, self.crop
        w_cam = camera_rates(win.w, win.R_imu_to_cam)
        n_sub = substeps_for_max_step(win.t_ns, w_cam, self.K, (cam.height, cam.width), max_step_px=sub.max_step_px,
                                      min_substeps=sub.min_per_interval, max_substeps=sub.max_per_interval, M=self.M)
        ox, oy = info["position"]
        H_full, _ = pose_homographies(win.t_ns, w_cam, self.K, substeps=n_sub, anchor="mid", M=self.M)
        if self.online.margin is not None:
            m = int(self.online.margin)
        else:
            m = min(int(self.online.max_margin), 2 * math.ceil((crop_margin(H_full, (ox, oy, c, c)) + 2) / 2))
        if info["image"] == "deadleaves":
            px, py = ox - m, oy - m
            patch = dead_leaves_linear((c + 2 * m, c + 2 * m), r_img, self._dl_params)
        else:
            full = self._image(self._paths[[p.name for p in self._paths].index(info["image"])])
            if "dihedral" in info:
                full = dihedral(full, info["dihedral"])
            px, py = max(0, ox - m), max(0, oy - m)
            patch = full[py:min(full.shape[0], oy + c + m), px:min(full.shape[1], ox + c + m)]
        K2 = shifted_K(self.K, px, py)
        crop = (ox - px, oy - py, c, c)
        H, _ = pose_homographies(win.t_ns, w_cam, K2, substeps=n_sub, anchor="mid", M=self.M)
        out = _render(np.ascontiguousarray(patch, dtype=np.float32), H, crop, "opencv", "cpu")
        chw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))  # noqa: E731
        sample: dict[str, Any] = {"blurred": chw(out["blurred"]), "sharp": chw(out["sharp"]),
                                  "sat_mask": chw(out["sat_mask"])}
        if self.fields:
            self._gyro_source()
            draw = None if self._error_model is None else self._error_model.draw(r_err, len(win.t_ns), K=K2)
            clean, noisy = window_fields(win.t_ns, w_cam, K2, draw=draw, crop=crop, M=self.M, layout="chw",
                                         dtype=np.float32)
            clean = torch.from_numpy(np.ascontiguousarray(clean))
            noisy = clean if draw is None else torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32))
            sample["cmf_clean"], sample["cmf_noisy"] = clean.float(), noisy.float()
        info.update(margin=m, substeps=int(n_sub))
        sample["meta"] = {
            "sample_id": f"otf-{self.epoch}-{int(index):09d}", "shard": "on-the-fly", "index": int(index), "K": K2,
            "exposure_ns": int(win.t_ns[-1] - win.t_ns[0]), "crop": crop, "seed": self.seed,
            "blur_extent_px": float(pose_path_length_px(H, (crop[0] + (c - 1) / 2, crop[1] + (c - 1) / 2))),
            "draws": info,
        }
        return sample
