"""Import an official GyroBlur-Synth folder into gyrobench shards (issue 4 item 7; spec gyrodeblurnet.md §1.1).

Expected layout (the release's README tree; the gyro files may sit at the top or inside each split)::

    DIR/gyro_train.txt, DIR/gyro_test.txt                 timestamp_ns wx wy wz (rad/s), one sample a line
    DIR/train/avg_blur/*.png  sharp/*.png  sat_mask/*.png  GyroBlur-Synth_train_starting_point.txt
    DIR/test/avg_blur/*.png   sharp/*.png  sat_mask/*.png  GyroBlur-Synth_test_starting_point.txt
    DIR/test/camera_motion_field/*.npy                     optional: supplied (perturbed) fields, (H/2, W/2, 16)

The n-th image of a split in sorted order uses gyro samples ``start .. start+10`` where ``start`` is line n of the
starting-point file (0- or 1-based: unknown, spec §10, so ``starting_point_base`` is an option, default 0).
PNGs are 8-bit **linear** RGB (spec §1.1) and are stored unchanged as ``uint8`` (or x257 as ``uint16``).
Camera: 4KRD intrinsics in the 1920x1080 frame, stored crop (320, 180, 1280, 720) (spec §1.1).
Supplied ``.npy`` fields are stored (float32, lossless) as ``cmf_noisy`` (the maintainer: they carry gyro noise
and rotation-centre perturbation, spec §3.3 item 7); ``cmf_clean`` is not stored (recomputed from the gyro window
on load). A split without supplied fields (train) gets one error-model draw per image, stored as ``err_*`` like
synthesis (:class:`gyrobench.gyro.error_model.GyroErrorModel`, RNG ``sample_seedseq(seed, split, index)``), so its
``cmf_noisy`` is perturbed (spec §4, §9.5: training needs both fields); ``error_model=False`` stores no draw and
then ``cmf_noisy == cmf_clean`` (ablation (b)).
Train blur is stored as released (clean: degradation on the fly); test blur already has saturation (``offline``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import yaml

from ..config import from_dict
from ..data.manifest import FORMAT, content_fingerprint, read_manifest, write_json_atomic
from ..data.shards import SHARD_FORMAT, ShardWriter
from ..errors import GyroFormatError, ImageError, ShardError
from ..folders import claim
from ..gyro.cmf import FieldSpec, cmf_shape
from ..gyro.error_model import GyroErrorModel
from ..gyro.recording import load_gyro
from ..gyro.trajectory import pose_homographies
from ..log import get_logger, progress
from ..provenance import git_commit, machine, sha256_file, sha256_json, versions
from ..synth.blur import pose_path_length_px
from .seeding import sample_seedseq
from .sources import load_starting_points

log = get_logger("build.importer")

FOURKRD = dict(fx=2139.03493, fy=2133.82853, cx=960.0, cy=540.0, width=1920, height=1080)
FOURKRD_CROP = (320, 180, 1280, 720)

__all__ = ["import_gyroblur", "FOURKRD", "FOURKRD_CROP"]


def _read_png(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise ImageError(f"{path}: cannot decode the PNG (corrupt or not an image); replace it")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3][..., ::-1]
    if img.dtype != np.uint8:
        raise ImageError(f"{path}: expected an 8-bit PNG like the official release, got {img.dtype}")
    return np.ascontiguousarray(img)


def _find(base: Path, split: str, name: str) -> Path | None:
    for p in (base / split / name, base / name):
        if p.exists():
            return p
    return None


def _split_files(base: Path, split: str):
    sdir = base / split
    blur_dir = sdir / "avg_blur"
    if not blur_dir.is_dir():
        return None
    blurs = sorted(p for p in blur_dir.iterdir() if p.suffix.lower() == ".png")
    if not blurs:
        raise ImageError(f"{blur_dir}: no PNG files; expected the released avg_blur images")
    for sub in ("sharp", "sat_mask"):
        d = sdir / sub
        if not d.is_dir():
            raise ImageError(f"{d}: folder missing; the official layout has {split}/avg_blur, sharp and sat_mask")
        missing = [p.name for p in blurs if not (d / p.name).is_file()]
        if missing:
            raise ImageError(f"{d / missing[0]}: missing ({len(missing)} {sub} files lack a match in avg_blur)")
    gyro = _find(base, split, f"gyro_{split}.txt")
    if gyro is None:
        raise GyroFormatError(f"{base / f'gyro_{split}.txt'}: gyro file not found (looked in {base} and {sdir})")
    sp = _find(base, split, f"GyroBlur-Synth_{split}_starting_point.txt")
    if sp is None:
        raise GyroFormatError(f"{sdir / f'GyroBlur-Synth_{split}_starting_point.txt'}: starting-point file not "
                              "found; it gives each image's gyro window")
    cmf_dir = sdir / "camera_motion_field"
    return blurs, gyro, sp, (cmf_dir if cmf_dir.is_dir() else None)


def import_gyroblur(src: str | Path, out_dir: str | Path, *, splits=("train", "test"), shard_size: int = 64,
                    dtype: str = "uint8", starting_point_base: int = 0, samples: int = 11,
                    camera: dict | None = None, crop: tuple[int, int, int, int] = FOURKRD_CROP,
                    limit: int | None = None, compression: str = "gzip", compression_level: int = 4,
                    error_model: bool | dict = True, seed: int = 0, command: str = "") -> dict:
    """Convert the official folder ``src`` into ``out_dir`` (manifest + shards); returns the manifest.

    ``camera`` (fx, fy, cx, cy, width, height) defaults to 4KRD; images must be exactly the crop size.
    ``error_model``: ``True`` (default magnitudes), a dict of :class:`GyroErrorModel` fields, or ``False``; drawn
    (seeded by ``seed``, split and index) for every image of a split without supplied fields.
    Raises ImageError / GyroFormatError / ShardError naming the offending file.
    """

    src, out_dir = Path(src), Path(out_dir)
    if not src.is_dir():
        raise ImageError(f"{src}: folder not found; give the GyroBlur-Synth folder (with train/ and test/)")
    cam = dict(FOURKRD if camera is None else camera)
    K = np.array([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1]], dtype=np.float64)
    x0, y0, cw, ch = (int(v) for v in crop)
    if x0 < 0 or y0 < 0 or x0 + cw > cam["width"] or y0 + ch > cam["height"]:
        raise ShardError(f"crop {crop} does not fit the {cam['width']}x{cam['height']} frame; fix --crop")
    K_crop = K.copy()
    K_crop[0, 2] -= x0
    K_crop[1, 2] -= y0
    err_model = _error_model(error_model)
    options = {"source": "official GyroBlur-Synth layout", "splits": list(splits), "shard_size": shard_size,
               "dtype": dtype, "starting_point_base": starting_point_base, "samples": samples, "camera": cam,
               "crop": [x0, y0, cw, ch], "limit": limit,
               "error_model": None if err_model is None else dataclasses.asdict(err_model), "seed": int(seed)}
    recipe_text = yaml.safe_dump({"import": options}, sort_keys=False)
    recipe_sha = sha256_json(options)
    # the folder is a dataset's (gyrobench.folders): anything else is refused, a dataset of other settings too
    with claim(out_dir, "dataset", made_by="gyrobench import-gyroblur"):
        if (out_dir / "manifest.json").is_file():
            old = read_manifest(out_dir)
            if old.get("recipe_sha256") != recipe_sha:
                raise ShardError(f"{out_dir}: holds another dataset ({old.get('name')}, recipe_sha256 "
                                 f"{str(old.get('recipe_sha256'))[:12]}...); import into a new or empty --out")
        return _import_into(src, out_dir, splits, shard_size, dtype, starting_point_base, samples, cam, K, K_crop,
                            (x0, y0, cw, ch), limit, err_model, seed, recipe_text, recipe_sha, compression,
                            compression_level, command)


def _import_into(src, out_dir, splits, shard_size, dtype, starting_point_base, samples, cam, K, K_crop, crop,
                 limit, err_model, seed, recipe_text, recipe_sha, compression, compression_level, command) -> dict:
    x0, y0, cw, ch = crop
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in out_dir.glob(".shard-*.h5.tmp-*"):
        p.unlink(missing_ok=True)
    entries, split_info, k = [], {}, 0
    found = False
    for split in splits:
        files = _split_files(src, split)
        if files is None:
            log.info("import: %s has no %s/avg_blur; split skipped", src, split)
            continue
        found = True
        blurs, gyro_path, sp_path, cmf_dir = files
        rec = load_gyro(gyro_path)
        starts = load_starting_points(sp_path, starting_point_base)
        n = len(blurs) if limit is None else min(len(blurs), int(limit))
        if starts.size < n:
            raise GyroFormatError(f"{sp_path}: {starts.size} starting points for {n} images; one line per image")
        bad = np.nonzero(starts[:n] + samples > len(rec.t_ns))[0]
        if bad.size:
            raise GyroFormatError(f"{sp_path}: line {bad[0] + 1}: start {starts[bad[0]]} + {samples} samples exceeds "
                                  f"the {len(rec.t_ns)} samples of {gyro_path.name}; check --starting-point-base")
        degradation = "offline:official-release (saturation added)" if split == "test" else "on_the_fly:none"
        n_sh = 0
        bar = progress(total=n, desc=f"import {split}", unit="img")
        for first in range(0, n, shard_size):
            count = min(shard_size, n - first)
            name = f"shard-{k:05d}.h5"
            attrs = {"format": SHARD_FORMAT, "split": split, "shard_index": k, "first_index": first,
                     "recipe_name": "import-gyroblur", "recipe_sha256": recipe_sha, "recipe": recipe_text,
                     "seed": int(seed), "colour_space": "linear sRGB primaries (Rec. 709), D65 white", "transfer": "linear",
                     "image_dtype": dtype, "degradation": degradation,
                     "anchor": "mid-exposure pose (official generator)", "field_spec": FieldSpec().to_dict(),
                     "versions": versions()}
            with ShardWriter(out_dir / name, count, attrs, compression=compression,
                             compression_level=compression_level) as wr:
                for i in range(first, first + count):
                    sample = _import_sample(split, i, blurs[i], starts[i], rec, samples, K, K_crop, cam,
                                            (x0, y0, cw, ch), cmf_dir, dtype)
                    if cmf_dir is None and err_model is not None:
                        sample.update(_error_draw(err_model, seed, split, i, len(sample["gyro_t_ns"]), K))
                    wr.add(sample)
                    bar.update(1)
            path = out_dir / name
            entries.append({"file": name, "sha256": sha256_file(path), "bytes": path.stat().st_size,
                            "samples": count, "split": split, "first_index": first})
            k += 1
            n_sh += 1
        bar.close()
        split_info[split] = {"samples": n, "shards": n_sh, "degradation": degradation.split(":")[0],
                             "preset": "official-release",
                             "cmf_noisy": "supplied" if cmf_dir is not None else
                             ("error_model" if err_model is not None else "clean")}
        log.info("import %s: %d samples, %d shards", split, n, n_sh)
    if not found:
        raise ImageError(f"{src}: no split folder with avg_blur/ found (looked for {', '.join(splits)}); "
                         "give the GyroBlur-Synth root folder")
    manifest = {"format": FORMAT, "name": "gyroblur-synth-import", "recipe": recipe_text, "recipe_sha256": recipe_sha,
                "seed": int(seed), "limit": limit, "versions": versions(),
                "image": {"dtype": dtype, "colour_space": "linear sRGB primaries (Rec. 709), D65 white",
                          "transfer": "linear", "layout": "HWC"},
                "splits": split_info, "shards": entries, "fingerprint": None,
                "created": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_commit": git_commit(),
                            "machine": machine(), "command": command}}
    manifest["fingerprint"] = content_fingerprint(manifest)
    write_json_atomic(out_dir / "manifest.json", manifest)
    return manifest


def _import_sample(split, i, blur_path, start, rec, S, K, K_crop, cam, crop, cmf_dir, dtype):

    x0, y0, cw, ch = crop
    imgs = {}
    for key, sub in (("blurred", "avg_blur"), ("sharp", "sharp"), ("sat_mask", "sat_mask")):
        p = blur_path.parent.parent / sub / blur_path.name
        img = _read_png(p)
        if img.shape[:2] != (ch, cw):
            raise ImageError(f"{p}: image is {img.shape[1]}x{img.shape[0]}, expected the {cw}x{ch} crop; "
                             "check --crop/--frame")
        imgs[key] = img
    conv = (lambda a: a) if dtype == "uint8" else (lambda a: a.astype(np.uint16) * np.uint16(257))
    s = int(start)
    t = np.asarray(rec.t_ns[s:s + S], dtype=np.int64)
    w = np.asarray(rec.w[s:s + S], dtype=np.float64)
    R = np.asarray(rec.R_imu_to_cam, dtype=np.float64)

    H, _ = pose_homographies(t, w @ R.T, K, substeps=8, anchor="mid")
    sample = {
        "sharp": conv(imgs["sharp"]), "blurred": conv(imgs["blurred"]), "sat_mask": imgs["sat_mask"],
        "gyro_t_ns": t, "gyro_w": w, "R_imu_to_cam": R, "K": K, "K_crop": K_crop,
        "frame_size": np.array([cam["width"], cam["height"]], dtype=np.int64),
        "crop": np.array(crop, dtype=np.int64), "exposure_ns": np.int64(t[-1] - t[0]),
        "window_start": np.int64(s), "sample_id": f"{split}-{i:06d}", "sample_index": np.int64(i),
        "source_image": blur_path.name, "source_sha256": sha256_file(blur_path),
        "blur_extent_px": np.float32(pose_path_length_px(H, (x0 + (cw - 1) / 2, y0 + (ch - 1) / 2))),
    }
    if cmf_dir is not None:
        npy = cmf_dir / (blur_path.stem + ".npy")
        if not npy.is_file():
            cands = sorted(cmf_dir.glob("*.npy"))
            npy = cands[i] if i < len(cands) else npy
        if not npy.is_file():
            raise ShardError(f"{npy}: motion field missing for {blur_path.name}; camera_motion_field/ must hold "
                             "one .npy per image")
        field = np.load(npy, allow_pickle=False)
        expected = cmf_shape(crop, 2, 8, "hwc")
        if field.shape != expected:
            raise ShardError(f"{npy}: field shape {field.shape}, expected {expected} (H/2, W/2, 16)")
        sample["cmf_noisy"] = field.astype(np.float32)
    return sample


def _error_model(spec):
    """``True`` / ``False`` / dict of :class:`GyroErrorModel` fields / a model -> model or ``None``."""

    if spec is False or spec is None:
        return None
    if spec is True:
        return GyroErrorModel()
    if isinstance(spec, GyroErrorModel):
        return spec
    return from_dict(GyroErrorModel, dict(spec), source="import-gyroblur", prefix="error_model")


def _error_draw(model, seed: int, split: str, index: int, n_samples: int, K) -> dict[str, np.ndarray]:
    """The sample's error-model draw as ``err_*`` arrays, from the same RNG stream as synthesis uses."""

    _ss_gyro, ss_err, _ss_deg = sample_seedseq(seed, split, index).spawn(3)
    draw = model.draw(np.random.default_rng(ss_err), n_samples, K=K)
    return {f"err_{k}": v for k, v in draw.to_arrays().items()}
