"""Helpers shared by the loader/trainer/demo tests (no tests here).

``write_tiny_dataset`` writes a gyrobench dataset folder directly with h5py, following the field names of
docs/conventions.md §5 and ``docs/datasets.md`` (so these tests do not depend on the synthesis pipeline).
The stored motion fields encode their own coordinates: channel 0 = field column, channel 1 = field row,
channel 2 = sample number, so a test can check that a crop of the image came with the matching crop of the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gyrobench.models.registry import register
from gyrobench.provenance import sha256_file

M = 8


def write_tiny_dataset(root: Path, *, n_train: int = 8, n_test: int = 2, h: int = 48, w: int = 64,
                       per_shard: int = 4, seed: int = 0, store_cmf: bool = True) -> Path:
    """A dataset folder with ``train`` and ``test`` splits of smooth random images (uint16 linear)."""
    import h5py

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    shards, k = [], 0
    for split, n in (("train", n_train), ("test", n_test)):
        for first in range(0, n, per_shard):
            count = min(per_shard, n - first)
            path = root / f"shard-{k:05d}.h5"
            with h5py.File(path, "w") as f:
                sharp = np.empty((count, h, w, 3), np.uint16)
                blurred = np.empty_like(sharp)
                for j in range(count):
                    phase = rng.uniform(0, 6.3, size=3)
                    img = 0.5 + 0.4 * np.sin(xx[..., None] / 5.0 + yy[..., None] / 7.0 + phase)
                    sharp[j] = np.rint(img * 65535)
                    blur = 0.5 * (img + np.roll(img, 2, axis=1))
                    blurred[j] = np.rint(blur * 65535)
                f.create_dataset("sharp", data=sharp, chunks=(1, h, w, 3), compression="gzip")
                f.create_dataset("blurred", data=blurred, chunks=(1, h, w, 3), compression="gzip")
                f.create_dataset("sat_mask", data=np.zeros((count, h, w, 3), np.uint8), chunks=(1, h, w, 3))
                S = 11
                t = np.arange(S, dtype=np.int64)[None, :] * 2_500_000 + np.zeros((count, 1), np.int64)
                f.create_dataset("gyro_t_ns", data=t)
                f.create_dataset("gyro_w", data=rng.normal(0, 0.05, size=(count, S, 3)))
                f.create_dataset("R_imu_to_cam", data=np.broadcast_to(np.eye(3), (count, 3, 3)).copy())
                K = np.array([[60.0, 0, w / 2 + 4], [0, 60.0, h / 2 + 6], [0, 0, 1]])
                f.create_dataset("K", data=np.broadcast_to(K, (count, 3, 3)).copy())
                f.create_dataset("crop", data=np.tile(np.array([4, 6, w, h], np.int64), (count, 1)))
                f.create_dataset("exposure_ns", data=np.full(count, 25_000_000, np.int64))
                ids = [f"{split}-{first + j:06d}" for j in range(count)]
                f.create_dataset("sample_id", data=ids, dtype=h5py.string_dtype("utf-8"))
                if store_cmf:
                    fy, fx = np.mgrid[0:h // 2, 0:w // 2].astype(np.float16)
                    cmf = np.zeros((count, h // 2, w // 2, 2 * M), np.float16)
                    cmf[..., 0] = fx
                    cmf[..., 1] = fy
                    cmf[..., 2] = (first + np.arange(count))[:, None, None]
                    f.create_dataset("cmf_clean", data=cmf, chunks=(1, h // 2, w // 2, 2 * M))
                    noisy = cmf.copy()
                    noisy[..., 3] = 1.0
                    f.create_dataset("cmf_noisy", data=noisy, chunks=(1, h // 2, w // 2, 2 * M))
                f.attrs["samples"] = count
                f.attrs["complete"] = 1
                f.attrs["split"] = split
            shards.append({"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size, "samples": count,
                           "split": split, "first_index": first})
            k += 1
    manifest = {"format": "gyrobench-dataset/1", "name": "tiny", "recipe": "", "recipe_sha256": "", "seed": seed,
                "versions": {}, "shards": shards}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root


@register("tiny_gyro_test", uses_gyro=True, citation="test only")
class TinyGyroNet(nn.Module):
    """A few-hundred-parameter residual net that reads the blurred image and the α-mixed motion field."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.img = nn.Conv2d(3, width, 3, padding=1)
        self.gyro = nn.Conv2d(2 * M, width, 1)
        self.out = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, batch):
        x = batch["blurred"]
        a = batch.get("alpha", 1.0)
        field = a * batch["cmf_noisy"] + (1 - a) * batch["cmf_clean"]
        g = nn.functional.interpolate(self.gyro(field * 0.01), size=x.shape[-2:], mode="nearest")
        return x + self.out(torch.relu(self.img(x) + g))


def tiny_config(root: Path, **over) -> dict:
    cfg = {
        "name": "tiny",
        "model": {"name": "tiny_gyro_test", "options": {"width": 4}},
        "data": {"root": str(root), "split": "train", "crop": 32, "workers": 0},
        "schedule": {"batch_size": 2, "steps": 8, "lr": 1e-3, "lr_min": 1e-5},
        "degradation": None,
        "seed": 7,
        "device": "cpu",
        "logging": {"log_every": 1, "checkpoint_every": 4, "tensorboard": False, "image_every": 0},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg
