"""A torch ``Dataset`` over gyrobench shards (docs/conventions.md §2, §5; spec ``gyrodeblurnet.md`` §3.1, §6.1).

``ShardDataset(root, split=..., crop=256, seed=...)`` yields one dict per sample:

======================  =====================  ==========================================================
key                     shape / type           meaning
======================  =====================  ==========================================================
``blurred``             (3, h, w) float32      linear RGB in [0, 1] (uint16 / uint8 shard values ÷ max)
``sharp``               (3, h, w) float32      ground truth, linear (absent if the shard has none)
``sat_mask``            (1|3, h, w) float32    saturation mask (absent if the shard has none)
``cmf_clean``           (2M, hf, wf) float32   field from the stored gyro, full-resolution pixels
``cmf_noisy``           (2M, hf, wf) float32   field from the stored gyro + stored error-model draw
``meta``                dict                   ``sample_id``, ``shard``, ``index``, ``K`` (3,3),
                                               ``exposure_ns``, ``crop`` (x0, y0, w, h) in the frame of
                                               ``K``, ``seed``
======================  =====================  ==========================================================

and :func:`collate` stacks a list of them into the batch dict of docs/conventions.md §2 (``meta``: dict of lists).

Conventions
-----------
* Random crops (``crop=256``) have **even** offsets, so the stride-2 motion field is cropped with the image:
  the field of a crop at (ox, oy) is the stored/full field sliced at (ox/2, oy/2) (spec §3.1 step 6, §6.1).
  No flips or rotations (they would require transforming the field; spec §6.1).
* ``crop=None`` yields the whole stored image; the field then covers the image padded right/bottom to a
  multiple of ``pad_multiple`` (8 for GyroDeblurNet; spec §5.1), i.e. it is (2M, Hp/2, Wp/2).
* The stored image is a window ``crop = (x0, y0, w, h)`` of the camera frame whose intrinsics are ``K``
  (shard fields ``crop`` and ``K``); a crop (ox, oy, cw, ch) of the stored image is the frame window
  (x0+ox, y0+oy, cw, ch), which is what the gyro core's ``camera_motion_field(..., crop=...)`` takes.
* Fields are recomputed from the stored gyro on load, with the shard's :class:`~gyrobench.gyro.cmf.FieldSpec`
  (its ``field_spec`` attribute: M = the recipe's ``storage.cmf_segments``) or the ``field`` asked for; if the
  shard stores them (``cmf_clean`` /
  ``cmf_noisy`` datasets, float16 (N, H/2, W/2, 2M), recipe option ``store_cmf``) they are read and sliced,
  unless ``field`` asks for other fields than the stored ones (``field != `` the shard's spec: M, or an option such
  as ``interp`` away from ``camera_motion_field``'s default, which synthesis and import use): then both are
  recomputed. A stored ``cmf_noisy`` without ``err_*`` draws (fields supplied by the official release, see
  ``import-gyroblur``) cannot be recomputed: it is read, ``cmf_clean`` is recomputed, and with other
  ``field`` it is replaced by the clean field (a warning says so).
* Rolling-shutter shards (a per-sample ``readout_time_s`` > 0, recipe ``exposure.readout_time_s``): the fields
  are :func:`gyrobench.gyro.rolling_shutter.window_field`, each row the field of its own exposure window.
* Crop offsets are a pure function of ``(seed, epoch, sample index)`` (:meth:`ShardDataset.set_epoch`), so
  results do not depend on the number or scheduling of DataLoader workers, and a resumed run sees the same
  crops as an uninterrupted one.
* HDF5 files are opened lazily, once per worker process (never in ``__init__``); the dataset pickles without
  open handles, so it is safe with ``multiprocessing_context="spawn"`` workers.

Splits: ``split=None`` uses every sample. ``split="train"|"test"`` uses ``root/<split>/manifest.json`` if that
exists, else the manifest shard entries whose ``"split"`` equals it. The manifest is read and checked by
``gyrobench.data.shards.open_dataset`` (files present, sizes; with ``verify=True`` also sha256 and HDF5 structure).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ShardError
from ..gyro.cmf import FieldSpec
from ..gyro.error_model import ErrorDraw
from ..gyro.window_fields import camera_rates, window_fields
from ..log import get_logger
from .shards import field_spec_of, open_dataset

__all__ = ["ShardDataset", "collate", "random_crop_offset"]

log = get_logger("data.dataset")

_ERR_PREFIX = "err_"


def random_crop_offset(rng: np.random.Generator, height: int, width: int, crop: int, align: int = 2
                       ) -> tuple[int, int]:
    """Uniform random (ox, oy) top-left offset of a ``crop``×``crop`` window, both multiples of ``align``."""
    if crop > height or crop > width:
        raise ShardError(f"crop {crop} is larger than the stored image {height}x{width}; use a smaller 'crop'")
    ny = (height - crop) // align + 1
    nx = (width - crop) // align + 1
    oy = int(rng.integers(0, ny)) * align
    ox = int(rng.integers(0, nx)) * align
    return ox, oy


def _to_float(arr: np.ndarray) -> np.ndarray:
    """uint16 / uint8 linear code values -> float32 in [0, 1]; float arrays are passed through as float32."""
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    return arr.astype(np.float32, copy=False)


def _hwc_to_chw(arr: np.ndarray) -> torch.Tensor:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO" and value.ndim == 0:
        return _decode(value.item())
    return value


class ShardDataset(torch.utils.data.Dataset):
    """Samples of a gyrobench dataset folder, with stride-aligned random crops and recomputed motion fields.

    Parameters
    ----------
    root: dataset folder (``manifest.json`` + shards), or a parent holding ``<split>/manifest.json``.
    split: ``None`` (all), ``"train"`` or ``"test"`` (see the module docstring).
    crop: side of the square random crop in pixels (even), or ``None`` for the whole image.
    seed: base seed of the crop offsets.
    crop_mode: ``"random"`` (training) or ``"center"`` (deterministic evaluation crops, still even offsets).
    verify: check the manifest's sha256 of every shard at construction (slow for big datasets; the cheap
        checks — files present, sample counts — always run).
    fields: compute ``cmf_clean`` / ``cmf_noisy`` (``False`` for models that ignore the gyro: faster).
    pad_multiple: for ``crop=None``, the field covers the image padded to this multiple (spec §5.1).
    field: the :class:`~gyrobench.gyro.cmf.FieldSpec` of the fields to return; ``None``: each shard's own spec
        (its ``field_spec`` attribute, so stored fields are read). Stored fields are read only when ``field ==``
        the shard's spec; otherwise they are recomputed from the stored gyro.
    stored_fields: read ``cmf_clean``/``cmf_noisy`` from the shard when present (``False``: always recompute).
    """

    def __init__(self, root: str | Path, split: str | None = None, crop: int | None = 256, seed: int = 0, *,
                 crop_mode: str = "random", verify: bool = True, fields: bool = True, pad_multiple: int = 8,
                 field: FieldSpec | None = None, stored_fields: bool = True):
        self.root = Path(root)
        self.split = split
        self.crop = None if crop is None else int(crop)
        if self.crop is not None and (self.crop <= 0 or self.crop % 2):
            raise ShardError(f"{self.root}: crop={crop}: the crop must be a positive even number of pixels "
                             "(the motion field has stride 2)")
        if crop_mode not in ("random", "center"):
            raise ShardError(f"crop_mode={crop_mode!r}: use 'random' or 'center'")
        self.crop_mode = crop_mode
        self.seed = int(seed)
        self.epoch = 0
        self.fields = bool(fields)
        self.stored_fields = bool(stored_fields)
        self.pad_multiple = int(pad_multiple)
        if field is not None and not isinstance(field, FieldSpec):
            raise TypeError(f"field must be a gyrobench.gyro.cmf.FieldSpec or None, got {type(field).__name__}")
        self.field = field
        self.data_dir, refs = self._resolve(self.root, split, verify)
        self.shards: list[Path] = list(dict.fromkeys(r.shard for r in refs))
        pos = {p: k for k, p in enumerate(self.shards)}
        self._refs = np.array([(pos[r.shard], r.index) for r in refs], dtype=np.int64).reshape(-1, 2)
        self._files: dict[int, Any] = {}
        self._pid: int | None = None
        log.debug("%s: %d samples in %d shards (split=%s)", self.data_dir, len(self), len(self.shards), split)

    # ------------------------------------------------------------------ manifest
    @staticmethod
    def _resolve(root: Path, split: str | None, verify: bool):
        """(dataset folder, list of ``SampleRef``) via the shards module's manifest checks (docs/conventions.md §5)."""
        if split is not None and (root / split / "manifest.json").is_file():
            root = root / split
            index = open_dataset(root, verify=verify)
            return root, list(index)
        index = open_dataset(root, verify=verify)
        refs = list(index) if split is None else index.split(split)
        if not refs:
            raise ShardError(f"{root / 'manifest.json'}: no samples (split={split}); synthesize a non-empty dataset")
        return root, refs

    # ------------------------------------------------------------------ file handles
    def _file(self, k: int):
        import h5py

        pid = os.getpid()
        if self._pid != pid:  # new (forked or spawned) worker: never reuse a parent's handle
            self._files = {}
            self._pid = pid
        f = self._files.get(k)
        if f is None:
            try:
                f = h5py.File(self.shards[k], "r")
            except OSError as exc:
                raise ShardError(f"{self.shards[k]}: cannot open as HDF5 ({exc}); the shard is corrupt") from exc
            self._files[k] = f
        return f

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_files"] = {}
        state["_pid"] = None
        return state

    def close(self) -> None:
        for f in self._files.values():
            try:
                f.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._files = {}

    def __del__(self):  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return int(self._refs.shape[0])

    def set_epoch(self, epoch: int) -> None:
        """Select the crop offsets of ``epoch`` (call it in the main process before iterating a DataLoader)."""
        self.epoch = int(epoch)

    def locate(self, index: int) -> tuple[int, int]:
        """Global sample index -> (shard number, index within the shard)."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range 0..{len(self) - 1}")
        k, i = self._refs[index]
        return int(k), int(i)

    def _window(self, index: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(ox, oy, cw, ch): the window of the stored image this sample yields."""
        if self.crop is None:
            return 0, 0, width, height
        if self.crop_mode == "center":
            return ((width - self.crop) // 4) * 2, ((height - self.crop) // 4) * 2, self.crop, self.crop
        rng = np.random.default_rng([self.seed, self.epoch, index])
        ox, oy = random_crop_offset(rng, height, width, self.crop)
        return ox, oy, self.crop, self.crop

    def __getitem__(self, index: int) -> dict:
        k, i = self.locate(int(index))
        try:
            return self._get(int(index), k, i)
        except ShardError:
            raise
        except OSError as exc:  # h5py: a chunk that fails to decompress / checksum (bit flip under --no-verify)
            raise ShardError(f"{self.shards[k]}: sample {i} cannot be read ({exc}); the shard is corrupt: delete it "
                             "and rerun 'gyrobench synth' (or import-gyroblur) with the same --out, or run "
                             "'gyrobench inspect' on the dataset (without --no-verify) to find every bad shard") from exc

    def _get(self, index: int, k: int, i: int) -> dict:
        f = self._file(k)
        where = f"{self.shards[k]}[{i}]"
        try:
            blurred_ds = f["blurred"]
        except KeyError as exc:
            raise ShardError(f"{self.shards[k]}: dataset 'blurred' missing; not a gyrobench shard") from exc
        height, width = int(blurred_ds.shape[1]), int(blurred_ds.shape[2])
        ox, oy, cw, ch = self._window(index, height, width)
        sl = (i, slice(oy, oy + ch), slice(ox, ox + cw))
        out: dict[str, Any] = {"blurred": _hwc_to_chw(_to_float(blurred_ds[sl]))}
        for name in ("sharp", "sat_mask"):
            if name in f:
                out[name] = _hwc_to_chw(_to_float(f[name][sl]))

        K = np.asarray(f["K"][i], dtype=np.float64)
        frame = np.asarray(f["crop"][i], dtype=np.int64) if "crop" in f else np.array([0, 0, width, height])
        fx0, fy0 = int(frame[0]) + ox, int(frame[1]) + oy
        meta = {
            "sample_id": str(_decode(f["sample_id"][i])) if "sample_id" in f else f"{self.shards[k].stem}:{i}",
            "shard": self.shards[k].name,
            "index": i,
            "K": K,
            "exposure_ns": int(f["exposure_ns"][i]) if "exposure_ns" in f else -1,
            "crop": (fx0, fy0, cw, ch),
            "seed": self.seed,
        }
        if self.fields:
            out.update(self._fields(f, i, K, (fx0, fy0), (ox, oy, cw, ch), where))
        out["meta"] = meta
        return out

    def _shard_spec(self, f) -> FieldSpec:
        """The FieldSpec of the shard's (stored or recomputable) fields, cached per file."""
        cache = self.__dict__.setdefault("_specs", {})
        key = f.filename
        if key not in cache:
            stored = next((f[n].shape[-1] for n in ("cmf_clean", "cmf_noisy") if n in f), None)
            cache[key] = field_spec_of(dict(f.attrs), stored)
        return cache[key]

    def _fields(self, f, i: int, K: np.ndarray, frame_xy: tuple[int, int], window, where: str) -> dict:
        """cmf_clean / cmf_noisy (2M, hf, wf) for the window, stored or recomputed from the gyro."""
        ox, oy, cw, ch = window
        if self.crop is None and self.pad_multiple > 1:
            m = self.pad_multiple
            cw, ch = -(-cw // m) * m, -(-ch // m) * m
        have = self._shard_spec(f)
        want = have if self.field is None else self.field
        opts = want.kwargs()
        has_draws = any(n.startswith(_ERR_PREFIX) for n in f)
        stored = [n for n in ("cmf_clean", "cmf_noisy") if n in f] if self.stored_fields else []
        if stored and want != have:
            if "cmf_noisy" in f and not has_draws:
                self._warn_once(f"{f.filename}: the supplied 'cmf_noisy' fields are {have}, but {want} was "
                                "requested; they are recomputed from the gyro without a perturbation "
                                "(cmf_noisy == cmf_clean); ask for the stored fields' spec to keep them")
            stored = []
        out: dict[str, torch.Tensor] = {}
        ys, xs = slice(oy // 2, oy // 2 + ch // 2), slice(ox // 2, ox // 2 + cw // 2)
        for n in stored:
            stored_h, stored_w = f[n].shape[1:3]
            if oy // 2 + ch // 2 <= stored_h and ox // 2 + cw // 2 <= stored_w:
                out[n] = _hwc_to_chw(self._read(f, n, i, (ys, xs), where).astype(np.float32))
            elif n == "cmf_noisy" and not has_draws:  # a supplied field (import): pad, it cannot be recomputed
                arr = self._read(f, n, i, (ys, xs), where).astype(np.float32)
                pad = ((0, ch // 2 - arr.shape[0]), (0, cw // 2 - arr.shape[1]), (0, 0))
                out[n] = _hwc_to_chw(np.pad(arr, pad, mode="edge"))
        if len(out) == 2:
            return out
        try:
            t_ns = np.asarray(f["gyro_t_ns"][i], dtype=np.int64)
            # body axes as recorded -> camera axes (docs/conventions.md §1)
            w = camera_rates(f["gyro_w"][i], f["R_imu_to_cam"][i] if "R_imu_to_cam" in f else None)
        except KeyError as exc:
            raise ShardError(f"{where}: gyro field {exc} missing; cannot compute the motion field") from exc
        opts.update(crop=(frame_xy[0], frame_xy[1], cw, ch), layout="chw", dtype=np.float32)
        readout = float(f["readout_time_s"][i]) if "readout_time_s" in f else 0.0
        rs = {"readout_time_s": readout, "exposure_ns": int(f["exposure_ns"][i]),
              "frame_height": int(f["frame_size"][i][1])} if readout > 0 else {}
        draws = ({n[len(_ERR_PREFIX):]: np.asarray(f[n][i]) for n in f if n.startswith(_ERR_PREFIX)}
                 if "cmf_noisy" not in out else {})
        clean, noisy = window_fields(t_ns, w, K, draw=ErrorDraw.from_arrays(draws) if draws else None, **rs, **opts)
        out.setdefault("cmf_clean", torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)))
        if "cmf_noisy" not in out:
            out["cmf_noisy"] = (torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32)) if draws
                                else out["cmf_clean"])
        return {n: out[n] for n in ("cmf_clean", "cmf_noisy")}

    @staticmethod
    def _read(f, name: str, i: int, sl: tuple, where: str) -> np.ndarray:
        return f[name][(i, *sl)]

    def _warn_once(self, message: str) -> None:
        seen = self.__dict__.setdefault("_warned", set())
        if message not in seen:
            seen.add(message)
            log.warning("%s", message)


def collate(samples: list[dict]) -> dict:
    """Stack per-sample dicts into the batch dict of docs/conventions.md §2; ``meta`` becomes a dict of lists."""
    if not samples:
        raise ValueError("collate: empty list of samples")
    batch: dict[str, Any] = {}
    for key in samples[0]:
        if key == "meta":
            continue
        if not all(key in s for s in samples):
            raise ShardError(f"collate: key '{key}' present in some samples only; mix datasets of one schema")
        batch[key] = torch.stack([s[key] for s in samples])
    metas = [s.get("meta", {}) for s in samples]
    batch["meta"] = {k: [m.get(k) for m in metas] for k in metas[0]}
    return batch
