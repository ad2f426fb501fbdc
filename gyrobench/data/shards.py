"""HDF5 shards: writing, reading and verifying (docs/conventions.md §5; schema in ``docs/datasets.md``).

A dataset is a folder ``manifest.json`` + ``shard-00000.h5``, ... Each shard holds the samples of one split, the
first axis of every dataset being the sample. Images are chunked one sample per chunk with lossless compression
(gzip + byte shuffle by default), so a reader decompresses only the sample it asks for. Plain h5py reads
everything; :func:`read_sample` just converts the stored integers to float32 linear [0, 1].

Image conventions: HWC, RGB order, **linear** intensities with linear-sRGB (Rec. 709) primaries; stored as
``uint16`` (value/65535) or ``uint8`` (value/255); ``sat_mask`` is uint8 (value/255, 3 channels, rsblur.md D3);
``valid`` is uint8 0/1 (pixel saw the frame at every pose). Gyro: ``gyro_t_ns`` int64 ns, ``gyro_w`` float64
rad/s (raw body axes; ``R_imu_to_cam`` maps them to camera axes). ``K`` is the float64 (3, 3) *full-frame*
intrinsic matrix and ``crop = (x0, y0, w, h)`` the stored window in full-frame pixels, exactly the arguments of
``gyrobench.gyro.cmf.camera_motion_field``; ``K_crop`` is K in the stored image's coordinates.

Writes are atomic: a shard is written to a hidden temp file in the same folder and renamed when complete, so
``shard-*.h5`` files are always whole (an interrupted write leaves only a temp file, removed on the next run).
HDF5 object timestamps are disabled so that the same content gives the same bytes (and sha256).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ShardError
from ..gyro.cmf import FieldSpec
from ..log import get_logger, progress
from ..provenance import sha256_file
from .manifest import read_manifest

log = get_logger("data.shards")

SHARD_FORMAT = "gyrobench-shard/1"
IMAGE_KEYS = ("sharp", "blurred")
COMPRESSED_KEYS = ("sharp", "blurred", "sat_mask", "valid", "cmf_clean", "cmf_noisy")

# Per-dataset attributes: units and conventions (shown by `gyrobench inspect`).
FIELD_ATTRS: dict[str, dict[str, str]] = {
    "sharp": {"layout": "N,H,W,C (RGB)", "units": "linear intensity; divide by the dtype maximum",
              "colour_space": "linear sRGB primaries (Rec. 709), D65", "transfer": "linear",
              "meaning": "sharp frame at the mid-exposure pose (the motion-field anchor), cropped"},
    "blurred": {"layout": "N,H,W,C (RGB)", "units": "linear intensity; divide by the dtype maximum",
                "colour_space": "linear sRGB primaries (Rec. 709), D65", "transfer": "linear",
                "meaning": "average of the warped frames in linear light (+ degradation if the split is offline)"},
    "sat_mask": {"layout": "N,H,W,C", "units": "fraction of poses at which the sharp pixel was clipped, /255",
                 "meaning": "saturation mask, rsblur.md §3.3 / D3"},
    "valid": {"layout": "N,H,W", "units": "0/1",
              "meaning": "1 where the pixel stayed inside the frame at every pose (no border fill)"},
    "gyro_t_ns": {"layout": "N,S", "units": "ns (int64)", "meaning": "timestamps of the gyro window"},
    "gyro_w": {"layout": "N,S,3", "units": "rad/s (float64)", "meaning": "angular velocity, body axes as recorded"},
    "R_imu_to_cam": {"layout": "N,3,3", "units": "rotation matrix", "meaning": "IMU axes -> camera axes"},
    "K": {"layout": "N,3,3", "units": "px of the full frame", "meaning": "full-frame intrinsics"},
    "K_crop": {"layout": "N,3,3", "units": "px of the stored crop", "meaning": "intrinsics of the stored images"},
    "frame_size": {"layout": "N,2", "units": "px", "meaning": "full frame (width, height)"},
    "crop": {"layout": "N,4", "units": "px of the full frame", "meaning": "stored window (x0, y0, w, h)"},
    "exposure_ns": {"layout": "N", "units": "ns", "meaning": "t[last] - t[first] of the gyro window"},
    "n_poses": {"layout": "N", "units": "count", "meaning": "warps averaged for the blur"},
    "substeps": {"layout": "N", "units": "count", "meaning": "poses per raw gyro interval"},
    "window_start": {"layout": "N", "units": "sample index (0-based)",
                     "meaning": "window start in the gyro recording; -1 for the fitted generator"},
    "blur_extent_px": {"layout": "N", "units": "px", "meaning": "path length of the crop-centre trajectory"},
    "readout_time_s": {"layout": "N", "units": "s", "meaning": (
        "rolling-shutter readout of the full frame (absent = global shutter): row y starts y * readout / height "
        "after gyro_t_ns[0]; the gyro window covers exposure_ns (its first S samples) plus the readout; fields "
        "are per row, each row's own exposure window (docs/datasets.md, Rolling shutter)")},
    "sample_id": {"layout": "N", "units": "", "meaning": "<split>-<index:06d>"},
    "sample_index": {"layout": "N", "units": "", "meaning": "index within the split"},
    "rng_key": {"layout": "N,3", "units": "", "meaning": "SeedSequence entropy (seed, split key, index)"},
    "source_image": {"layout": "N", "units": "", "meaning": "file name of the sharp source"},
    "source_sha256": {"layout": "N", "units": "", "meaning": "sha256 of the sharp source file"},
    "cmf_clean": {"layout": "N,H/2,W/2,2M", "units": "px (float16)", "meaning": "motion field, clean gyro"},
    "cmf_noisy": {"layout": "N,H/2,W/2,2M", "units": "px (float16)", "meaning": "motion field, perturbed gyro"},
    "err_bias": {"layout": "N,3", "units": "rad/s", "meaning": "error-model gyro bias draw"},
    "err_noise": {"layout": "N,S,3", "units": "rad/s", "meaning": "error-model white-noise draw per gyro sample"},
    "err_center_offset": {"layout": "N,2", "units": "px of the full frame (x, y)",
                          "meaning": "error-model rotation-centre offset draw"},
    "err_time_offset_ns": {"layout": "N", "units": "ns", "meaning": "error-model gyro-vs-exposure clock offset"},
}


def _field_attrs(key: str) -> dict[str, str]:
    if key in FIELD_ATTRS:
        return FIELD_ATTRS[key]
    if key.startswith("deg_"):
        return {"meaning": f"offline degradation draw '{key[4:]}' (gyrobench.synth.degrade.DegradationDraw)"}
    if key.startswith("err_"):
        return {"meaning": f"error-model draw '{key[4:]}' (gyrobench.gyro.error_model.ErrorDraw)"}
    return {}

__all__ = ["ShardWriter", "read_sample", "read_shard_attrs", "open_dataset", "DatasetIndex", "SampleRef",
           "verify_dataset", "verify_shard", "SHARD_FORMAT", "image_scale"]


def image_scale(dtype) -> float:
    """Full-scale value of a stored integer image dtype (65535 for uint16, 255 for uint8)."""
    return float(np.iinfo(np.dtype(dtype)).max)


def quantize(x: np.ndarray, dtype: str, bits: int | None = None) -> np.ndarray:
    """Linear float in [0, 1] -> rounded unsigned integers of ``dtype`` (round half to even, clipped).

    ``bits`` < the dtype's width keeps that many significant bits: values are rounded to multiples of
    ``2**(width - bits)`` (still read as value / dtype max), so the zero low bits cost almost nothing after
    shuffle + gzip. E.g. uint16 with ``bits=12``: step 16/65535 = 2.4e-4 linear (recipe ``storage.bits``).
    """
    s = image_scale(dtype)
    x = np.asarray(x, dtype=np.float64)
    width = np.dtype(dtype).itemsize * 8
    if bits is None or bits >= width:
        return np.clip(np.rint(x * s), 0, s).astype(dtype)
    step = float(1 << (width - int(bits)))
    return np.clip(np.rint(x * (s / step)) * step, 0, s).astype(dtype)


class ShardWriter:
    """Write ``n_samples`` samples into ``path`` atomically.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "shard-00000.h5"
    >>> with ShardWriter(path, n_samples=1, attrs={"split": "test"}) as w:
    ...     w.add({"sharp": np.zeros((4, 6, 3), np.uint16), "gyro_w": np.zeros((11, 3)), "sample_id": "test-000000"})
    >>> s = read_sample(path, 0)
    >>> s["sample_id"], s["sharp"].shape, s["sharp"].dtype.name
    ('test-000000', (4, 6, 3), 'float32')

    Datasets are created on the first :meth:`add` from that sample's arrays (shape ``(n_samples, *shape)``);
    later samples must have the same keys, shapes and dtypes. Strings become variable-length UTF-8.
    On leaving the ``with`` block normally the file is closed, checked for completeness and renamed to
    ``path``; on an exception the temp file is removed.

    Image fields (and ``cmf_*``) are compressed with filters built into h5py: ``compression`` ``gzip`` (level
    ``compression_level``), ``lzf`` or ``none``; ``shuffle`` adds HDF5's byte shuffle; one chunk per sample, or
    blocks of ``chunk_rows`` rows (a reader of crops then decompresses only those rows). Default gzip 4 +
    shuffle: the fastest level that keeps a 12-bit sample under the 6 MB budget (benchmarks/results/
    bench_write.md: level 1 writes ~1.7x faster for 3-6 % more bytes, lzf ~3.5x faster for ~40 % more).
    """

    def __init__(self, path: str | Path, n_samples: int, attrs: dict[str, Any] | None = None, *,
                 compression: str = "gzip", compression_level: int = 4, shuffle: bool = True,
                 chunk_rows: int | None = None):
        import h5py

        self.path = Path(path)
        self.n = int(n_samples)
        self.count = 0
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._comp: dict[str, Any] = {}
        if compression == "gzip":
            self._comp = {"compression": "gzip", "compression_opts": int(compression_level), "shuffle": shuffle}
        elif compression == "lzf":
            self._comp = {"compression": "lzf", "shuffle": shuffle}
        elif compression != "none":
            raise ShardError(f"{self.path}: compression {compression!r} unknown; use gzip, lzf or none")
        self._chunk_rows = chunk_rows
        self._f = h5py.File(self.tmp, "w", libver="earliest", track_order=False)
        self._attrs = dict(attrs or {})
        self._keys: list[str] | None = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def add(self, sample: dict[str, Any]) -> None:
        import h5py

        if self.count >= self.n:
            raise ShardError(f"{self.path}: more than {self.n} samples added")
        if self._keys is None:
            self._keys = sorted(sample)
            for key in self._keys:
                value = sample[key]
                if isinstance(value, str):
                    self._f.create_dataset(key, shape=(self.n,), dtype=h5py.string_dtype("utf-8"),
                                           track_times=False)
                else:
                    arr = np.asarray(value)
                    kw: dict[str, Any] = {}
                    if key in COMPRESSED_KEYS or key.startswith("cmf_"):
                        rows = arr.shape[0] if not self._chunk_rows or arr.ndim < 2 else min(self._chunk_rows,
                                                                                              arr.shape[0])
                        kw = dict(chunks=(1, rows, *arr.shape[1:]), **self._comp)
                    self._f.create_dataset(key, shape=(self.n, *arr.shape), dtype=arr.dtype, track_times=False,
                                           **kw)
                for k, v in _field_attrs(key).items():
                    self._f[key].attrs[k] = v
        elif sorted(sample) != self._keys:
            extra = set(sample) ^ set(self._keys)
            raise ShardError(f"{self.path}: sample {self.count} has different fields ({sorted(extra)})")
        for key in self._keys:
            value = sample[key]
            ds = self._f[key]
            if not isinstance(value, str):
                value = np.asarray(value)
                if value.shape != ds.shape[1:]:
                    raise ShardError(f"{self.path}: field '{key}' of sample {self.count} has shape {value.shape}, "
                                     f"expected {ds.shape[1:]}")
            ds[self.count] = value
        self.count += 1

    def close(self) -> Path:
        if self._f is None:
            return self.path
        if self.count != self.n:
            self.abort()
            raise ShardError(f"{self.path}: only {self.count} of {self.n} samples written")
        for k, v in self._attrs.items():
            self._f.attrs[k] = v if isinstance(v, (int, float, str, np.integer, np.floating)) else json.dumps(v)
        self._f.attrs["samples"] = self.n
        self._f.attrs["complete"] = 1
        self._f.close()
        self._f = None
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._f is not None:
            try:
                self._f.close()
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
            self._f = None
        self.tmp.unlink(missing_ok=True)


def _open(path: Path):
    import h5py

    if not path.is_file():
        raise ShardError(f"{path}: shard file missing; rerun 'gyrobench synth' with the same --out to regenerate it")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ShardError(f"{path}: not a readable HDF5 file ({exc}); the shard is truncated or corrupt, "
                         "delete it and rerun 'gyrobench synth' with the same --out") from exc


def field_spec_of(attrs: dict[str, Any], stored_channels: int | None = None) -> FieldSpec:
    """The :class:`FieldSpec` of a shard's motion fields, from its ``field_spec`` attribute. Shards written before
    that attribute existed used the official options with M = stored channels / 2 (or 8 without stored fields)."""
    spec = attrs.get("field_spec")
    if isinstance(spec, bytes):
        spec = spec.decode()
    if isinstance(spec, str):
        spec = json.loads(spec)
    if isinstance(spec, dict):
        return FieldSpec.from_dict(spec)
    return FieldSpec(M=stored_channels // 2 if stored_channels else 8)


def read_shard_attrs(path: str | Path) -> dict[str, Any]:
    """File attributes of a shard (JSON-encoded values decoded)."""
    with _open(Path(path)) as f:
        out = {}
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    v = json.loads(v)
                except json.JSONDecodeError:
                    pass
            out[k] = v.item() if isinstance(v, np.generic) else v
        return out


def read_sample(shard_path: str | Path, index: int, *, keys: list[str] | None = None) -> dict[str, Any]:
    """Read sample ``index`` of a shard as a dict.

    ``sharp``/``blurred`` become float32 HWC linear [0, 1]; ``sat_mask`` float32 [0, 1] (H,W,3); ``valid``
    bool (H,W); ``cmf_*`` float32 (H/2,W/2,2M); strings are ``str``; everything else keeps its stored dtype
    (``gyro_t_ns`` int64, ``gyro_w`` float64, ``K`` float64, ``err_*`` error-model draws, ``deg_*``
    degradation draws). ``keys`` restricts what is read.
    """
    path = Path(shard_path)
    with _open(path) as f:
        n = int(f.attrs.get("samples", 0))
        if not 0 <= index < n:
            raise ShardError(f"{path}: sample index {index} out of range (shard has {n} samples)")
        out: dict[str, Any] = {}
        for key in keys or list(f.keys()):
            if key not in f:
                raise ShardError(f"{path}: field '{key}' not in this shard; fields: {', '.join(f.keys())}")
            ds = f[key]
            try:
                value = ds[index]
            except OSError as exc:
                raise ShardError(f"{path}: field '{key}' of sample {index} cannot be decoded ({exc}); the shard "
                                 "is corrupt, delete it and rerun 'gyrobench synth' with the same --out") from exc
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            elif key in IMAGE_KEYS or key == "sat_mask":
                value = value.astype(np.float32) / np.float32(image_scale(ds.dtype))
            elif key == "valid":
                value = value.astype(bool)
            elif key.startswith("cmf_"):
                value = value.astype(np.float32)
            out[key] = value
        out.setdefault("split", f.attrs.get("split", ""))
        if isinstance(out["split"], bytes):
            out["split"] = out["split"].decode()
        return out


@dataclass(frozen=True)
class SampleRef:
    """Where one sample lives: shard file (absolute), index inside it, its split and id."""

    shard: Path
    index: int
    split: str
    sample_id: str


class DatasetIndex:
    """A dataset folder whose manifest has been read and checked (see :func:`open_dataset`).

    ``len(ds)``, ``ds[i] -> SampleRef``, ``ds.split("test") -> list[SampleRef]``, ``ds.manifest``,
    ``ds.splits`` (names), ``ds.read(i) -> dict`` (:func:`read_sample`).
    """

    def __init__(self, root: Path, manifest: dict):
        self.root = root
        self.manifest = manifest
        refs = []
        for entry in manifest["shards"]:
            first = int(entry.get("first_index", 0))
            for j in range(int(entry["samples"])):
                refs.append(SampleRef(root / entry["file"], j, entry["split"],
                                      f"{entry['split']}-{first + j:06d}"))
        self.refs = refs

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int) -> SampleRef:
        return self.refs[i]

    def __iter__(self):
        return iter(self.refs)

    @property
    def splits(self) -> list[str]:
        return list(dict.fromkeys(r.split for r in self.refs))

    def split(self, name: str) -> list[SampleRef]:
        if name not in self.splits:
            raise ShardError(f"{self.root / 'manifest.json'}: no split '{name}'; splits: {', '.join(self.splits)}")
        return [r for r in self.refs if r.split == name]

    def read(self, i: int, **kw) -> dict[str, Any]:
        ref = self.refs[i]
        return read_sample(ref.shard, ref.index, **kw)


def open_dataset(root: str | Path, *, verify: bool = False) -> DatasetIndex:
    """Open a dataset folder: read the manifest, check every listed shard exists with the recorded size
    (and, with ``verify=True``, its sha256 and HDF5 structure: :func:`verify_dataset`)."""
    root = Path(root)
    if root.name == "manifest.json":
        root = root.parent
    man = read_manifest(root)
    for entry in man["shards"]:
        path = root / entry["file"]
        if not path.is_file():
            raise ShardError(f"{path}: listed in {root / 'manifest.json'} but missing; rerun 'gyrobench synth' "
                             "with the same recipe and --out to regenerate it")
        if "bytes" in entry and path.stat().st_size != int(entry["bytes"]):
            raise ShardError(f"{path}: size {path.stat().st_size} bytes differs from the manifest's "
                             f"{entry['bytes']} (truncated or replaced); delete it and rerun 'gyrobench synth'")
    if verify:
        verify_dataset(root)
    return DatasetIndex(root, man)


def verify_shard(path: str | Path, *, sha256: str | None = None, samples: int | None = None,
                 decode: bool = True) -> None:
    """Check one shard: sha256 (if given), HDF5 opens, ``complete`` flag, sample count, and (``decode``) that
    every chunk of every dataset decompresses. Raises :class:`ShardError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path}: shard file missing; rerun 'gyrobench synth' with the same --out")
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256:
            raise ShardError(f"{path}: sha256 {got[:12]}... does not match the manifest's {sha256[:12]}... "
                             "(corrupt or modified); delete the file and rerun 'gyrobench synth' with the same --out")
    with _open(path) as f:
        if int(f.attrs.get("complete", 0)) != 1:
            raise ShardError(f"{path}: shard not marked complete; delete it and rerun 'gyrobench synth'")
        n = int(f.attrs.get("samples", -1))
        if samples is not None and n != int(samples):
            raise ShardError(f"{path}: holds {n} samples, manifest says {samples}")
        if decode:
            for key, ds in f.items():
                try:
                    ds[...] if ds.chunks is None else [ds[i] for i in range(ds.shape[0])]
                except OSError as exc:
                    raise ShardError(f"{path}: field '{key}' cannot be decoded ({exc}); the shard is corrupt, "
                                     "delete it and rerun 'gyrobench synth'") from exc


def verify_dataset(root: str | Path, *, decode: bool = False) -> dict:
    """Verify every shard of a dataset against its manifest (existence, size, sha256, HDF5 structure).

    Returns ``{"ok": True, "shards": n, "samples": n}``; raises :class:`ShardError` naming the first bad file.
    """
    root = Path(root)
    if root.name == "manifest.json":
        root = root.parent
    man = read_manifest(root)
    total = 0
    # a paper-scale dataset is ~100 GB of sha256: progress in bytes (inspect, and every loader that verifies)
    bar = progress(total=sum(int(e.get("bytes", 0)) for e in man["shards"]), desc=f"verify {root.name}", unit="B",
                   unit_scale=True)
    for entry in man["shards"]:
        path = root / entry["file"]
        if path.is_file() and "bytes" in entry and path.stat().st_size != int(entry["bytes"]):
            raise ShardError(f"{path}: size {path.stat().st_size} bytes differs from the manifest's "
                             f"{entry['bytes']} (truncated?); delete it and rerun 'gyrobench synth' with the same --out")
        verify_shard(path, sha256=entry["sha256"], samples=entry["samples"], decode=decode)
        total += int(entry["samples"])
        bar.update(int(entry.get("bytes", 0)))
    bar.close()
    log.debug("verified %d shards, %d samples in %s", len(man["shards"]), total, root)
    return {"ok": True, "shards": len(man["shards"]), "samples": total}
