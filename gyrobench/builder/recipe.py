"""Dataset recipes: one YAML file says how a dataset is synthesized (issue 4 item 4, docs/conventions.md §5, §9).

A recipe is validated into the typed :class:`Recipe` dataclass tree with :func:`gyrobench.config.from_dict`:
unknown keys, wrong types and out-of-range values raise :class:`~gyrobench.errors.RecipeError` naming the file
and the dotted key. Builtin recipes (``smoke``, ``demo``, ``gyroblur-synth``) ship inside the package
(``gyrobench/recipes/*.yaml``, their one copy; the repository's ``recipes/`` is for users' own recipes), so
``load_recipe("demo")`` works from an installed package.

Conventions
-----------
- Camera: the *full frame* (``width`` x ``height`` px) is the frame the gyro homographies act on (spec
  gyrodeblurnet.md §1.1: 1920x1080 for GyroBlur-Synth). Intrinsics in full-frame pixels, either ``fx, fy,
  cx, cy`` or ``hfov_deg`` (then fx = fy = (W/2)/tan(hfov/2), principal point at the centre).
- ``crop = [x0, y0, w, h]`` in full-frame pixels: the stored images (spec §1.1: (320, 180, 1280, 720)).
  ``crop_size = [w, h]`` alone means a centred crop.
- Exposure: ``samples`` consecutive gyro samples per image (11 = 10 raw intervals, spec §1.1);
  ``readout_time_s`` (default 0 = global shutter) makes it a rolling shutter: full-frame row ``y`` starts
  exposing ``y * readout_time_s / height`` after row 0 (``docs/datasets.md``, "Rolling shutter").
- Sub-steps: at least ``min_per_interval`` poses per raw interval (8, spec §1.2), more when any pixel would
  move more than ``max_step_px`` between consecutive warps (rsblur.md D2).
- Paths in a recipe are relative to the recipe file; ``${VAR}`` / ``~`` are expanded when the recipe is
  *used* (the manifest keeps the text as written, so no user-specific absolute path is recorded).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from ..config import from_dict, to_dict
from ..errors import RecipeError
from ..gyro.error_model import GyroErrorModel
from ..provenance import sha256_json
from ..textfiles import inside, load_yaml, read_text

#: the largest seed: NumPy's SeedSequence and torch.manual_seed both take any non-negative 63-bit integer
MAX_SEED = 2**63 - 1

__all__ = [
    "GyroSource", "Sources", "Camera", "Exposure", "Substeps", "DegradationCfg", "Split", "Storage", "Recipe",
    "load_recipe", "builtin_recipes", "apply_overrides", "expand_path",
]

#: upper bounds on the values that set the amount of work (issue 13): far above any real dataset (the paper's is
#: 14,600 samples of a 1920x1080 frame with 11 gyro samples each), low enough that a typo fails at once instead
#: of running for hours
MAX_FRAME_PX = 16384          # frame width/height
MAX_EXPOSURE_SAMPLES = 1000   # gyro samples per exposure (about 5 s at the 200 Hz of the recordings)
MAX_SPLIT_SIZE = 10_000_000   # samples per split
MAX_SUBSTEPS = 1024           # poses per raw gyro interval
MAX_SHARD_SIZE = 100_000      # samples per shard
MAX_READOUT_S = 1.0           # rolling-shutter readout of the full frame (phones: about 0.01-0.04 s)

DEGRADATION_PRESETS = ("gyrodeblurnet_official", "gyrodeblurnet", "rsblur_pt", "rsblur_tf_realblur",
                       "rsblur_tf_rsblur")


@dataclass
class GyroSource:
    """Where the hand-shake comes from.

    - ``kind: fitted``: the synthetic hand-shake generator (``gyrobench.gyro.handshake.load_default_handshake()``
      or the model JSON in ``model``), one independent draw of ``samples`` gyro samples per image.
    - ``kind: capture``: windows of the gyro logs of the capture folders under ``file`` (one capture folder or a
      folder of them, written by ``gyrobench capture import`` from any device log, ``docs/captures.md``): the
      start is drawn uniformly from the per-sample RNG among the gap-free windows of all logs; rates on each
      capture's camera axes (its ``R_imu_to_cam``).
    - ``kind: files``: windows of a recorded sequence ``file`` (``t_ns wx wy wz`` per line, rad/s). The start
      of image n's window is line n of ``starting_points`` (``starting_point_base`` 0 or 1, spec §1.1/§10), or
      drawn uniformly from the per-sample RNG among starts whose window has no gap
      (dt > ``gap_factor`` x median dt) when ``exclude_gaps``.

    ``strength`` (default 1) multiplies the angular rates of every window (either kind), hence the blur extents;
    the fitted hand-shake is about half the strength of the official test windows (``strength: 1.9``).
    """

    kind: Literal["fitted", "files", "capture"] = "fitted"
    file: str | None = None
    model: str | None = None
    starting_points: str | None = None
    starting_point_base: int = 0
    exclude_gaps: bool = True
    gap_factor: float = 1.5
    rate_hz: float | None = None
    R_imu_to_cam: list[list[float]] | None = None
    strength: float = 1.0

    def __post_init__(self):
        if not self.strength > 0:
            raise ValueError(f"strength must be > 0, got {self.strength}")
        if self.kind == "files" and not self.file:
            raise ValueError("kind 'files' needs 'file' (a gyro recording: t_ns wx wy wz per line)")
        if self.kind == "capture" and not self.file:
            raise ValueError("kind 'capture' needs 'file' (a capture folder or a folder of them)")
        if self.starting_points and self.kind != "files":
            raise ValueError("'starting_points' needs kind 'files'")
        if self.starting_point_base not in (0, 1):
            raise ValueError(f"starting_point_base must be 0 or 1, got {self.starting_point_base}")
        if not self.gap_factor > 1.0:
            raise ValueError(f"gap_factor must be > 1, got {self.gap_factor}")
        if self.rate_hz is not None and not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {self.rate_hz}")
        if self.R_imu_to_cam is not None:
            r = self.R_imu_to_cam
            if len(r) != 3 or any(len(row) != 3 for row in r):
                raise ValueError("R_imu_to_cam must be a 3x3 list of lists")


@dataclass
class Sources:
    """Sharp images (``builtin:kodak``, a folder, or a list of files) and the gyro source."""

    images: str | list[str] = "builtin:kodak"
    patterns: list[str] = field(default_factory=lambda: ["*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff"])
    gyro: GyroSource = field(default_factory=GyroSource)


@dataclass
class Camera:
    """Full frame size, intrinsics (px) and the stored crop; see the module docstring."""

    width: int
    height: int
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    hfov_deg: float | None = None
    crop: tuple[int, int, int, int] | None = None
    crop_size: tuple[int, int] | None = None
    image_fit: Literal["resize", "center_crop", "exact"] = "resize"

    def __post_init__(self):
        if not (0 < self.width <= MAX_FRAME_PX and 0 < self.height <= MAX_FRAME_PX):
            raise ValueError(f"width and height must be 1..{MAX_FRAME_PX} px, got {self.width}x{self.height}")
        explicit = [self.fx, self.fy, self.cx, self.cy]
        if self.hfov_deg is not None:
            if any(v is not None for v in explicit):
                raise ValueError("give either hfov_deg or fx, fy, cx, cy, not both")
            if not 0 < self.hfov_deg < 180:
                raise ValueError(f"hfov_deg must be in (0, 180), got {self.hfov_deg}")
        elif any(v is None for v in explicit):
            raise ValueError("give fx, fy, cx and cy (pixels of the full frame), or hfov_deg")
        elif self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"fx and fy must be positive, got {self.fx}, {self.fy}")
        if self.crop is not None and self.crop_size is not None:
            raise ValueError("give either crop [x0, y0, w, h] or crop_size [w, h], not both")
        x0, y0, w, h = self.crop_box()
        if w <= 0 or h <= 0 or x0 < 0 or y0 < 0 or x0 + w > self.width or y0 + h > self.height:
            raise ValueError(f"crop {[x0, y0, w, h]} does not fit in the {self.width}x{self.height} frame; "
                             "fix crop/crop_size")
        if w % 2 or h % 2:
            raise ValueError(f"crop size {w}x{h} must be even (the motion field is at half resolution)")

    def crop_box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, w, h)`` of the stored crop in full-frame pixels (centred when only a size is given)."""
        if self.crop is not None:
            return tuple(int(v) for v in self.crop)  # type: ignore[return-value]
        w, h = self.crop_size if self.crop_size is not None else (self.width, self.height)
        return ((self.width - w) // 2, (self.height - h) // 2, int(w), int(h))

    def intrinsics(self) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)`` of the full frame in pixels."""
        if self.hfov_deg is not None:
            f = (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
            return (f, f, self.width / 2.0, self.height / 2.0)
        return (float(self.fx), float(self.fy), float(self.cx), float(self.cy))

    def K(self):
        """Full-frame intrinsic matrix, float64 (3, 3)."""
        fx, fy, cx, cy = self.intrinsics()
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@dataclass
class Exposure:
    """Gyro samples per image (11 = 10 raw intervals, spec gyrodeblurnet.md §1.1) and the shutter.

    ``readout_time_s`` (seconds, default 0 = global shutter): rolling-shutter readout time of the full frame.
    Row ``y`` of the full frame (pixel centre, top = 0) exposes over ``[t0 + y * readout_time_s / height,
    ... + exposure]``, where ``t0`` is the window's first sample and the exposure lasts ``samples - 1`` raw
    intervals (:mod:`gyrobench.gyro.rolling_shutter`). The gyro window read per image then covers the exposure
    plus the readout (``docs/datasets.md``, "Rolling shutter").
    """

    samples: int = 11
    readout_time_s: float = 0.0

    def __post_init__(self):
        if not 2 <= self.samples <= MAX_EXPOSURE_SAMPLES:
            raise ValueError(f"samples must be 2..{MAX_EXPOSURE_SAMPLES} gyro samples per exposure (11 = 10 raw "
                             f"intervals, spec §1.1), got {self.samples}")
        r = self.readout_time_s
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= MAX_READOUT_S:
            raise ValueError(f"readout_time_s must be a number of seconds in [0, {MAX_READOUT_S:g}] (0 = global "
                             f"shutter; phones read a frame out in about 0.01-0.04 s), got {r!r}; fix "
                             "exposure.readout_time_s")
        self.readout_time_s = float(r)


@dataclass
class Substeps:
    """Poses per raw gyro interval: >= ``min_per_interval`` and enough for ``max_step_px`` (rsblur.md D2)."""

    min_per_interval: int = 8
    max_step_px: float = 1.0
    max_per_interval: int = 128

    def __post_init__(self):
        if self.min_per_interval < 1:
            raise ValueError(f"min_per_interval must be >= 1, got {self.min_per_interval}")
        if not self.max_step_px > 0:
            raise ValueError(f"max_step_px must be > 0, got {self.max_step_px}")
        if self.max_per_interval < self.min_per_interval:
            raise ValueError("max_per_interval must be >= min_per_interval")
        if self.max_per_interval > MAX_SUBSTEPS:
            raise ValueError(f"max_per_interval must be <= {MAX_SUBSTEPS}, got {self.max_per_interval}")


@dataclass
class DegradationCfg:
    """The RSBlur-style degradation preset (docs/conventions.md §6); applied offline for splits that ask for it."""

    preset: str = "gyrodeblurnet_official"

    def __post_init__(self):
        if self.preset not in DEGRADATION_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; use one of {', '.join(DEGRADATION_PRESETS)}")


@dataclass
class Split:
    """One split: ``size`` samples. ``degradation: offline`` applies the preset once and stores the result
    (test sets, spec §1.1: test blur already carries saturation); ``on_the_fly`` stores the clean blur and
    the saturation mask for the training loader. ``image_range = [start, stop]`` selects sorted images
    (python slice) so train and test can use disjoint images; ``images`` (a folder or list) and ``gyro``
    override the recipe's sources for this split."""

    name: str
    size: int
    degradation: Literal["offline", "on_the_fly"] = "on_the_fly"
    image_range: tuple[int, int] | None = None
    images: str | list[str] | None = None
    gyro: GyroSource | None = None

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.name):
            raise ValueError(f"split name {self.name!r} must be letters, digits or '_'")
        if self.size < 1:
            raise ValueError(f"split '{self.name}': size must be >= 1, got {self.size}")
        if self.size > MAX_SPLIT_SIZE:
            raise ValueError(f"split '{self.name}': size must be <= {MAX_SPLIT_SIZE:,}, got {self.size}")
        if self.image_range is not None and not 0 <= self.image_range[0] < self.image_range[1]:
            raise ValueError(f"split '{self.name}': image_range must be [start, stop] with 0 <= start < stop")


@dataclass
class Storage:
    """Shard layout (docs/conventions.md §5). ``bits``: significant bits kept in the stored sharp/blurred images
    (default: all); 12 keeps a 1280x720 uint16 sample under the 6 MB budget (docs/datasets.md, measured)."""

    shard_size: int = 64
    dtype: Literal["uint16", "uint8"] = "uint16"
    bits: int | None = None
    store_cmf: Literal["none", "float16"] = "none"
    cmf_segments: int = 8
    compression: Literal["gzip", "lzf", "none"] = "gzip"
    compression_level: int = 4

    def __post_init__(self):
        if not 1 <= self.shard_size <= MAX_SHARD_SIZE:
            raise ValueError(f"shard_size must be 1..{MAX_SHARD_SIZE:,}, got {self.shard_size}")
        if not 0 <= self.compression_level <= 9:
            raise ValueError(f"compression_level must be 0..9, got {self.compression_level}")
        if not 1 <= self.cmf_segments <= 256:
            raise ValueError(f"cmf_segments must be 1..256, got {self.cmf_segments}")
        width = 16 if self.dtype == "uint16" else 8
        if self.bits is not None and not 8 <= self.bits <= width:
            raise ValueError(f"bits must be between 8 and {width} for {self.dtype}, got {self.bits}")


@dataclass
class Recipe:
    """A whole dataset recipe. ``source_path`` and ``text`` are set by :func:`load_recipe`."""

    name: str
    splits: list[Split]
    camera: Camera
    seed: int = 0
    description: str = ""
    sources: Sources = field(default_factory=Sources)
    exposure: Exposure = field(default_factory=Exposure)
    substeps: Substeps = field(default_factory=Substeps)
    error_model: dict[str, Any] | None = field(default_factory=dict)
    degradation: DegradationCfg = field(default_factory=DegradationCfg)
    storage: Storage = field(default_factory=Storage)
    source_path: str | None = field(default=None, init=False, repr=False, compare=False)
    text: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.splits:
            raise ValueError("splits: give at least one split")
        names = [s.name for s in self.splits]
        if len(set(names)) != len(names):
            raise ValueError(f"splits: names must be unique, got {names}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer from 0 to {MAX_SEED} (2**63 - 1), got {self.seed}")

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the recipe refer to (the recipe file's folder, or the cwd)."""
        return Path(self.source_path).parent if self.source_path and not self.source_path.startswith(
            "builtin:") else Path.cwd()

    def to_dict(self) -> dict:
        d = to_dict(self)
        d.pop("source_path", None)
        d.pop("text", None)
        # keys added after recipes were first hashed are left out at their defaults, so the sha256 of an existing
        # recipe (recorded in its shards, manifests and results) does not change
        for gyro in [d["sources"]["gyro"], *(sp.get("gyro") for sp in d.get("splits", []))]:
            if isinstance(gyro, dict) and gyro.get("strength") == 1.0:
                gyro.pop("strength")
        if d.get("exposure", {}).get("readout_time_s") == 0.0:
            d["exposure"].pop("readout_time_s")
        return d

    @property
    def sha256(self) -> str:
        """Hash of the validated recipe (canonical JSON of :meth:`to_dict`)."""
        return sha256_json(self.to_dict())

    def gyro_for(self, split: Split) -> GyroSource:
        return split.gyro if split.gyro is not None else self.sources.gyro


def expand_path(value: str, recipe: Recipe, key: str) -> Path:
    """Expand ``~`` and ``${VAR}`` and resolve relative to the recipe folder; unset variables raise."""
    expanded = os.path.expandvars(os.path.expanduser(value))
    missing = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", expanded)
    if missing:
        src = recipe.source_path or "<recipe>"
        raise RecipeError(f"{src}: {key}: environment variable {missing[0]} is not set; "
                          f"export {missing[0]}=/path/to/data or override with --set {key}=PATH")
    p = Path(expanded)
    if p.is_absolute():
        return p
    # ``cli_values``: string values given with --set (set by load_recipe; not a field: not hashed or recorded)
    if expanded == value and value not in getattr(recipe, "cli_values", ()) and recipe.source_path \
            and not recipe.source_path.startswith("builtin:"):
        # a relative path written in the recipe file stays inside the recipe's folder (data elsewhere: an
        # absolute path, ${VAR} or --set KEY=PATH, all explicit choices)
        inside(recipe.base_dir, p, f"{recipe.source_path}: {key}", RecipeError)
    return recipe.base_dir / p


def builtin_recipes() -> dict[str, str]:
    """Builtin recipe names -> packaged resource path."""
    root = importlib.resources.files("gyrobench") / "recipes"
    out = {}
    try:
        for entry in root.iterdir():
            if entry.name.endswith(".yaml"):
                out[entry.name[:-5]] = str(entry)
    except (FileNotFoundError, NotADirectoryError):
        pass
    return dict(sorted(out.items()))


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise RecipeError(f"--set {item!r}: expected KEY=VALUE, e.g. --set splits.0.size=8")
    key, value = item.split("=", 1)
    return key.strip().split("."), load_yaml(value, f"--set {item!r}")


def apply_overrides(mapping: dict, overrides: list[str] | None, source: str) -> dict:
    """Apply ``--set dotted.key=value`` overrides (values parsed as YAML; list items by index)."""
    for item in overrides or []:
        path, value = _parse_override(item)
        node: Any = mapping
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise RecipeError(f"{source}: --set {item}: '{part}' is not an index of the list at "
                                      f"'{'.'.join(path[:i])}'")
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise RecipeError(f"{source}: --set {item}: '{'.'.join(path[:i])}' is not a mapping or list")
    return mapping


def load_recipe(path_or_name: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Load and validate a recipe from a YAML path or a builtin name (``smoke``, ``demo``, ...).

    ``overrides`` are ``dotted.key=value`` strings (``--set``) applied before validation. Raises
    :class:`RecipeError` naming the file and key for unknown keys, wrong types and bad values.
    """
    text_path = Path(path_or_name)
    builtins = builtin_recipes()
    if text_path.is_file():
        source = str(text_path)
        text = read_text(text_path, "recipe (YAML)")
    elif str(path_or_name) in builtins:
        source = f"builtin:{path_or_name}"
        text = (importlib.resources.files("gyrobench") / "recipes" / f"{path_or_name}.yaml").read_text("utf-8")
    else:
        names = ", ".join(builtins) or "(none installed)"
        raise RecipeError(f"{path_or_name}: recipe not found; give a YAML file path or a builtin name: {names}")
    mapping = load_yaml(text, source) or {}
    if not isinstance(mapping, dict):
        raise RecipeError(f"{source}: top level must be a mapping of keys")
    if overrides:
        mapping = apply_overrides(mapping, overrides, source)
        text = yaml.safe_dump(mapping, sort_keys=False)
    recipe = from_dict(Recipe, mapping, source=source)
    recipe.source_path = source
    recipe.text = text
    recipe.cli_values = frozenset(v for item in overrides or () for v in [_parse_override(item)[1]]
                                  if isinstance(v, str))
    _check_error_model(recipe, source)
    return recipe


def _check_error_model(recipe: Recipe, source: str) -> None:
    """Validate ``error_model`` keys against :class:`gyrobench.gyro.error_model.GyroErrorModel`."""
    if not recipe.error_model:  # {} = default magnitudes, null = no error model
        return
    names = {f.name for f in dataclasses.fields(GyroErrorModel)}
    for key in recipe.error_model:
        if key not in names:
            raise RecipeError(f"{source}: unknown key 'error_model.{key}'; valid keys here: "
                              f"{', '.join(sorted(names))}")
    try:
        from_dict(GyroErrorModel, dict(recipe.error_model), source=source, prefix="error_model")
    except RecipeError:
        raise
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{source}: error_model: {exc}") from exc
