"""Sources of a synthesized dataset: sharp images and hand-shake gyro windows (issue 4 items 3-4).

- Images: ``builtin:kodak`` (the packaged Kodak PNGs, docs/conventions.md §9), ``builtin:deadleaves`` (procedural
  dead-leaves images, :mod:`gyrobench.synth.deadleaves`: image k is generated at the frame size from the seed
  ``SeedSequence([recipe seed, "deadleaves", k])``, 10,000 of them; no file), a folder (files matching the
  recipe's patterns, sorted by name) or an explicit list. Image n of a split is ``images[(start + n) % count]``
  (sorted order, as the official starting-point files index images, spec gyrodeblurnet.md §1.1).
- Decoding: 8- or 16-bit sRGB files -> float32 linear [0, 1] HWC RGB (sRGB EOTF, rsblur.md §3.1), then fitted
  to the camera's full frame (``image_fit``: ``resize`` in linear light with area averaging, ``center_crop``
  or ``exact``). An image smaller than the stored crop is an :class:`ImageError` naming the file.
- Gyro windows: from a recording (``load_gyro``; random start from the per-sample RNG among gap-free windows,
  or line n of a starting-point file, 0- or 1-based), or one draw of the fitted hand-shake generator.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..assets import kodak_paths
from ..capture.format import list_captures, load_capture
from ..color import srgb_to_linear
from ..errors import GyroFormatError, ImageError, RecipeError
from ..gyro import handshake
from ..gyro.recording import load_gyro
from ..gyro.rolling_shutter import readout_extra_samples
from ..provenance import sha256_file
from ..synth.deadleaves import dead_leaves_linear
from ..textfiles import read_text
from .recipe import GyroSource, Recipe, Split, expand_path
from .seeding import split_key

__all__ = ["ProceduralImage", "DEADLEAVES_COUNT", "list_images", "images_for_split", "load_linear_image", "GyroWindowSource",
           "load_starting_points", "valid_window_starts"]


DEADLEAVES_COUNT = 10_000


@dataclass(frozen=True)
class ProceduralImage:
    """A generated image standing where a file would (``builtin:deadleaves``): ``name``, ``str()`` and
    :func:`load_linear_image` / :func:`file_sha256` accept it like a path."""

    kind: str
    index: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index:06d}"

    def __str__(self) -> str:
        return f"builtin:{self.kind}/{self.index:06d}?seed={self.seed}"

    def linear(self, frame_wh: tuple[int, int]) -> np.ndarray:
        rng = np.random.default_rng([int(self.seed), split_key(self.kind), int(self.index)])
        return dead_leaves_linear((int(frame_wh[1]), int(frame_wh[0])), rng)


def check_paths(recipe: Recipe) -> None:
    """Resolve every path the recipe names (images, gyro files, models, starting points) without reading them,
    so a path outside the recipe's folder or an unset ``${VAR}`` is refused before any work
    (:func:`gyrobench.builder.recipe.expand_path`)."""
    def images(value, key):
        if isinstance(value, str) and not value.startswith("builtin:"):
            expand_path(value, recipe, key)
        elif isinstance(value, list):
            for v in value:
                expand_path(v, recipe, key)

    images(recipe.sources.images, "sources.images")
    gyros = [("sources.gyro", recipe.sources.gyro)]
    for sp in recipe.splits:
        images(sp.images, f"splits.{sp.name}.images")
        if sp.gyro is not None:
            gyros.append((f"splits.{sp.name}.gyro", sp.gyro))
    for key, g in gyros:
        for name in ("file", "model", "starting_points"):
            value = getattr(g, name, None)
            if isinstance(value, str) and value:
                expand_path(value, recipe, f"{key}.{name}")


def list_images(recipe: Recipe, images=None, key: str = "sources.images") -> list[Path]:
    """All source images of the recipe (or of ``images``), sorted by name; errors name the key or folder."""
    images = recipe.sources.images if images is None else images
    if isinstance(images, str) and images == "builtin:kodak":
        return list(kodak_paths())
    if isinstance(images, str) and images == "builtin:deadleaves":
        return [ProceduralImage("deadleaves", k, recipe.seed) for k in range(DEADLEAVES_COUNT)]
    if isinstance(images, list):
        paths = [expand_path(p, recipe, key) for p in images]
        for p in paths:
            if not p.is_file():
                raise ImageError(f"{p}: image listed in {key} of {recipe.source_path} not found; "
                                 "fix the path")
        return paths
    folder = expand_path(images, recipe, key)
    if not folder.is_dir():
        raise ImageError(f"{folder}: image folder ({key} of {recipe.source_path}) not found; "
                         f"give an existing folder or --set {key}=PATH")
    pats = [p.lower() for p in recipe.sources.patterns]
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and any(fnmatch.fnmatch(p.name.lower(), pat) for pat in pats))
    if not paths:
        raise ImageError(f"{folder}: no images matching {recipe.sources.patterns}; fix sources.images/patterns")
    return paths


def images_for_split(recipe: Recipe, split: Split, all_images: list[Path] | None = None) -> list[Path]:
    """The images a split draws from (``image_range`` slice of the sorted list)."""
    if split.images is not None:
        imgs = list_images(recipe, split.images, f"splits.{split.name}.images")
    else:
        imgs = all_images if all_images is not None else list_images(recipe)
    if split.image_range is not None:
        a, b = split.image_range
        if b > len(imgs):  # an error, not a silent clamp (issue 13)
            raise RecipeError(f"{recipe.source_path}: splits.{split.name}.image_range {[a, b]} reaches past the "
                              f"{len(imgs)} images of the source; use a stop of at most {len(imgs)}")
        return imgs[a:b]
    return imgs


@lru_cache(maxsize=2)
def _srgb_lut(bits: int) -> np.ndarray:
    """float32 linear value of every 8- or 16-bit sRGB code: ``srgb_to_linear(code / (2**bits - 1))``, the same
    float32 computation as decoding the whole image, done once per code (a lookup then costs ~8 ms per frame
    instead of ~60 ms)."""
    n = (1 << bits) - 1
    return srgb_to_linear(np.arange(n + 1, dtype=np.float32) / np.float32(n)).astype(np.float32)


def _decode_linear(path: Path) -> np.ndarray:
    """Decode an 8- or 16-bit sRGB file to float32 linear RGB HWC (colour conversion through a lookup table)."""
    if not path.is_file():
        raise ImageError(f"{path}: image not found; fix sources.images in the recipe")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise ImageError(f"{path}: cannot decode the image (unsupported or corrupt file); replace it")
    if img.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"{path}: pixel type {img.dtype} not supported; use 8- or 16-bit sRGB images")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.take(_srgb_lut(8 if img.dtype == np.uint8 else 16), img)


def load_linear_image(path: str | Path, frame_wh: tuple[int, int], crop_wh: tuple[int, int],
                      fit: str = "resize") -> np.ndarray:
    """Decode an sRGB file to float32 linear RGB HWC fitted to the full frame ``frame_wh = (W, H)``.

    ``fit``: ``resize`` (area-average in linear light to exactly W x H; the aspect ratio must agree within 1 %),
    ``center_crop`` (cut the centre W x H; the image must be at least that large) or ``exact``.
    Raises :class:`ImageError` naming the file when the image is smaller than the crop ``crop_wh``.
    A :class:`ProceduralImage` is generated at the frame size (no fitting needed).
    """
    if isinstance(path, ProceduralImage):
        return np.ascontiguousarray(path.linear(frame_wh), dtype=np.float32)
    path = Path(path)
    lin = _decode_linear(path)
    h, w = lin.shape[:2]
    W, H = frame_wh
    cw, ch = crop_wh
    if w < cw or h < ch:
        raise ImageError(f"{path}: image is {w}x{h}, smaller than the {cw}x{ch} crop of the recipe; use larger "
                         "images or a smaller camera.crop")
    if (w, h) == (W, H):
        return np.ascontiguousarray(lin)
    if fit == "exact":
        raise ImageError(f"{path}: image is {w}x{h}, the recipe's frame is {W}x{H} (camera.image_fit: exact); "
                         "resize the images or set camera.image_fit to resize/center_crop")
    if fit == "center_crop":
        if w < W or h < H:
            raise ImageError(f"{path}: image is {w}x{h}, smaller than the {W}x{H} frame (image_fit: center_crop)")
        x0, y0 = (w - W) // 2, (h - H) // 2
        return np.ascontiguousarray(lin[y0:y0 + H, x0:x0 + W])
    if abs(w / h - W / H) > 0.01 * (W / H):
        raise ImageError(f"{path}: aspect ratio {w}x{h} differs from the {W}x{H} frame; set camera.image_fit: "
                         "center_crop or use images of the frame's aspect ratio")
    interp = cv2.INTER_AREA if W < w else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(lin, (W, H), interpolation=interp))


@lru_cache(maxsize=64)
def file_sha256(path: str) -> str:
    """sha256 of an image file; for a procedural image (``builtin:...`` name) the sha256 of that name, which
    with the gyrobench version in the shard attributes identifies the image."""
    if path.startswith("builtin:"):
        import hashlib

        return hashlib.sha256(path.encode()).hexdigest()
    return sha256_file(path)


def load_starting_points(path: Path, base: int) -> np.ndarray:
    """Read a starting-point file (one integer per line, spec §1.1) and convert to 0-based indices."""
    if not path.is_file():
        raise GyroFormatError(f"{path}: starting-point file not found; fix sources.gyro.starting_points")
    vals = []
    for lineno, line in enumerate(read_text(path, "starting-point file", GyroFormatError).splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            vals.append(int(s.split()[0]))
        except ValueError as exc:
            raise GyroFormatError(f"{path}: line {lineno}: not an integer start index; give one integer per "
                                  "line") from exc
    arr = np.asarray(vals, dtype=np.int64) - int(base)
    if arr.size and arr.min() < 0:
        raise GyroFormatError(f"{path}: negative start index after subtracting base {base}; "
                              "check starting_point_base (0 or 1)")
    return arr


def valid_window_starts(t_ns: np.ndarray, samples: int, exclude_gaps: bool, gap_factor: float) -> np.ndarray:
    """Start indices s such that samples s..s+samples-1 exist and (optionally) contain no gap interval
    (dt > gap_factor x median dt), vectorised with a cumulative count of gap intervals."""
    n_starts = len(t_ns) - samples + 1
    if n_starts <= 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(n_starts, dtype=np.int64)
    if not exclude_gaps:
        return starts
    dt = np.diff(t_ns.astype(np.int64))
    gap = (dt > gap_factor * np.median(dt)).astype(np.int64)
    c = np.concatenate([[0], np.cumsum(gap)])
    bad = c[starts + samples - 1] - c[starts]  # gaps among intervals s .. s+samples-2
    return starts[bad == 0]


def _median_dt_ns(t_ns) -> float:
    return float(np.median(np.diff(np.asarray(t_ns, dtype=np.int64))))


def _capture_windows(root: Path, samples: int, exclude_gaps: bool, gap_factor: float, readout_time_s: float = 0.0):
    """``([(recording, valid starts)], cumulative offsets, total, window samples)`` over the captures under
    ``root``; windows of ``samples`` plus, with a rolling shutter, the samples that cover the readout at the
    finest sample interval of the logs (one window length for all, so a shard's gyro arrays stack)."""
    logs = [load_capture(folder) for folder in list_captures(root)]
    recs_all = [cap.recording(f) for cap, f in logs]
    extra = max((readout_extra_samples(readout_time_s, _median_dt_ns(r.t_ns)) for r in recs_all), default=0)
    samples = samples + extra
    recs = []
    for rec in recs_all:
        starts = valid_window_starts(np.asarray(rec.t_ns), samples, exclude_gaps, gap_factor)
        if starts.size:
            recs.append((rec, starts))
    if not recs:
        raise GyroFormatError(f"{root}: no capture has a gap-free gyro window of {samples} samples; import longer "
                              "logs or set exclude_gaps: false")
    sizes = np.array([s.size for _, s in recs])
    return recs, np.concatenate([[0], np.cumsum(sizes)[:-1]]), int(sizes.sum()), samples


@dataclass
class GyroWindow:
    t_ns: np.ndarray  # (S,) int64
    w: np.ndarray  # (S, 3) float64 rad/s
    R_imu_to_cam: np.ndarray  # (3, 3)
    start: int  # -1 for generated


class GyroWindowSource:
    """Gives the gyro window of sample n of a split (deterministic in n and the sample RNG).

    A window has ``recipe.exposure.samples`` samples; with a rolling shutter (``exposure.readout_time_s > 0``)
    it has :func:`~gyrobench.gyro.rolling_shutter.readout_extra_samples` more, at the source's median sample
    interval, so that it covers the exposure of the last row too (``self.samples`` is the window length)."""

    def __init__(self, recipe: Recipe, split: Split):
        self.recipe = recipe
        self.cfg: GyroSource = recipe.gyro_for(split)
        self.samples = recipe.exposure.samples
        readout = recipe.exposure.readout_time_s
        self.R = np.asarray(self.cfg.R_imu_to_cam, dtype=np.float64) if self.cfg.R_imu_to_cam else np.eye(3)
        self._rec = None
        self._starts = None
        self._fixed = None
        self._model = None
        self._captures = None
        key = self._key = f"splits.{split.name}.gyro" if split.gyro is not None else "sources.gyro"
        if self.cfg.kind == "files":
            path = expand_path(self.cfg.file, recipe, f"{key}.file")
            self._rec = load_gyro(path)
            t = np.asarray(self._rec.t_ns)
            self.samples += readout_extra_samples(readout, _median_dt_ns(t))
            self._starts = valid_window_starts(t, self.samples, self.cfg.exclude_gaps, self.cfg.gap_factor)
            if self._starts.size == 0:
                raise GyroFormatError(f"{path}: no gap-free window of {self.samples} samples; "
                                      "use a longer recording or exclude_gaps: false")
            if self.cfg.starting_points:
                sp_path = expand_path(self.cfg.starting_points, recipe, f"{key}.starting_points")
                self._fixed = load_starting_points(sp_path, self.cfg.starting_point_base)
                if self._fixed.size < split.size:
                    raise GyroFormatError(f"{sp_path}: {self._fixed.size} starting points for a split of "
                                          f"{split.size} samples; give one line per image")
                too_far = self._fixed + self.samples > len(t)
                if too_far.any():
                    i = int(np.argmax(too_far))
                    raise GyroFormatError(f"{sp_path}: line {i + 1}: start {self._fixed[i]} + {self.samples} "
                                          f"samples exceeds the {len(t)}-sample recording {path.name}; check "
                                          "starting_point_base")
                self._sp_path = sp_path
        elif self.cfg.kind == "capture":
            self._captures = _capture_windows(expand_path(self.cfg.file, recipe, f"{key}.file"), self.samples,
                                              self.cfg.exclude_gaps, self.cfg.gap_factor, readout)
            self.samples = self._captures[3]
        else:
            self._model = self._load_model()
            self.samples += readout_extra_samples(readout, 1e9 / float(self.cfg.rate_hz or self._model.rate_hz))

    def _load_model(self):
        if self.cfg.model:
            return handshake.HandshakeModel.load(expand_path(self.cfg.model, self.recipe, f"{self._key}.model"))
        return handshake.load_default_handshake()

    def window(self, index: int, rng: np.random.Generator, strength: float | None = None) -> GyroWindow:
        """The window of sample ``index`` (draws from ``rng``), its rates multiplied by ``strength`` (default: the
        source's ``strength``; the on-the-fly sampler passes its own draw instead). This is the one place where
        the hand-shake strength is applied: the window, stored as ``gyro_w``, carries the scaled rates."""
        S = self.samples
        strength = float(self.cfg.strength if strength is None else strength)
        if self._captures is not None:
            recs, offsets, total, _ = self._captures
            g = int(rng.integers(total))
            k = int(np.searchsorted(offsets, g, side="right")) - 1
            rec, starts = recs[k]
            s = int(starts[g - offsets[k]])
            t, w, R = rec.t_ns[s:s + S], rec.w[s:s + S], rec.R_imu_to_cam
        elif self._rec is not None:
            if self._fixed is not None:
                s = int(self._fixed[index])
            else:
                s = int(self._starts[rng.integers(self._starts.size)])
            t, w = self._rec.t_ns[s:s + S], self._rec.w[s:s + S]
            R = self.R if self.cfg.R_imu_to_cam else getattr(self._rec, "R_imu_to_cam", self.R)
        else:
            s = -1
            seed = int(rng.integers(0, 2**63 - 1))
            rec = self._model.sample(S, seed, **({"rate_hz": self.cfg.rate_hz} if self.cfg.rate_hz else {}))
            t, w, R = rec.t_ns[:S], rec.w[:S], getattr(rec, "R_imu_to_cam", self.R)
        return GyroWindow(np.asarray(t, dtype=np.int64), np.asarray(w, dtype=np.float64) * strength,
                          np.asarray(R, dtype=np.float64), s)
