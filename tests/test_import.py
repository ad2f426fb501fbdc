"""import-gyroblur on a tiny fake folder in the official layout (spec gyrodeblurnet.md §1.1)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gyrobench.cli import main as cli_main
from gyrobench.data.dataset import ShardDataset
from gyrobench.data.shards import read_sample, verify_dataset
from gyrobench.gyro.cmf import camera_motion_field

CROP = (8, 8, 48, 32)  # x0, y0, w, h in a 64x48 frame
CLI_CAM = ["--frame", "64x48", "--K", "60,60,32,24", "--crop", "8,8,48,32"]


def _png(path: Path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr[..., ::-1])


def _fake(tmp: Path, n_train=3, n_test=2, fields=True) -> tuple[Path, dict]:
    rng = np.random.default_rng(3)
    root = tmp / "GyroBlur-Synth"
    truth = {}
    for split, n in (("train", n_train), ("test", n_test)):
        m = 60
        t = 10**14 + np.arange(m, dtype=np.int64) * 4_757_000
        w = rng.normal(0, 0.5, (m, 3))
        (root / f"gyro_{split}.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / f"gyro_{split}.txt").write_text("".join(f"{a} {b[0]:.9f} {b[1]:.9f} {b[2]:.9f}\n" for a, b in zip(t, w)))
        starts = rng.integers(0, m - 11, n)
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / f"GyroBlur-Synth_{split}_starting_point.txt").write_text("".join(f"{s}\n" for s in starts))
        for i in range(n):
            name = f"{i:06d}.png"
            for sub in ("avg_blur", "sharp", "sat_mask"):
                img = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
                _png(root / split / sub / name, img)
                truth[(split, i, sub)] = img
            if split == "test" and fields:
                f = rng.normal(0, 3, (16, 24, 16)).astype(np.float32)
                (root / split / "camera_motion_field").mkdir(exist_ok=True)
                np.save(root / split / "camera_motion_field" / f"{i:06d}.npy", f)
                truth[(split, i, "cmf")] = f
        truth[(split, "starts")] = starts
        truth[(split, "t")] = t
        truth[(split, "w")] = np.array([[float(f"{v:.9f}") for v in row] for row in w])
    return root, truth


def test_import_round_trip(tmp_path):
    src, truth = _fake(tmp_path)
    out = tmp_path / "out"
    assert cli_main(["import-gyroblur", str(src), "--out", str(out), "--shard-size", "2", *CLI_CAM]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["splits"]["train"]["samples"] == 3 and man["splits"]["test"]["samples"] == 2
    assert verify_dataset(out)["samples"] == 5
    test_entry = next(e for e in man["shards"] if e["split"] == "test")
    for split, n in (("train", 3), ("test", 2)):
        entries = [e for e in man["shards"] if e["split"] == split]
        for i in range(n):
            e = next(x for x in entries if x["first_index"] <= i < x["first_index"] + x["samples"])
            s = read_sample(out / e["file"], i - e["first_index"])
            # PNG values kept exactly (uint8 linear, spec §1.1)
            assert np.array_equal(np.rint(s["blurred"] * 255).astype(np.uint8), truth[(split, i, "avg_blur")])
            assert np.array_equal(np.rint(s["sharp"] * 255).astype(np.uint8), truth[(split, i, "sharp")])
            assert np.array_equal(np.rint(s["sat_mask"] * 255).astype(np.uint8), truth[(split, i, "sat_mask")])
            # the n-th image uses gyro lines start .. start+10 (0-based)
            st = int(truth[(split, "starts")][i])
            assert int(s["window_start"]) == st
            assert np.array_equal(s["gyro_t_ns"], truth[(split, "t")][st:st + 11])
            assert np.allclose(s["gyro_w"], truth[(split, "w")][st:st + 11], atol=1e-12)
            assert tuple(s["crop"]) == CROP and np.allclose(s["K"], [[60, 0, 32], [0, 60, 24], [0, 0, 1]])
            assert "cmf_clean" not in s  # recomputed on load, not stored (19 MB/sample at float32)
            clean = camera_motion_field(s["gyro_t_ns"], s["gyro_w"] @ s["R_imu_to_cam"].T, s["K"], crop=CROP)
            assert clean.shape == (16, 24, 16)
            # blur extent = path length of the crop centre through the field's own segments, up to the finer
            # pose sampling of the extent (8 sub-steps per interval vs 8 segments per window)
            seg_len = np.linalg.norm(clean[8, 12].reshape(-1, 2), axis=1).sum()
            assert float(s["blur_extent_px"]) >= seg_len - 0.05 and float(s["blur_extent_px"]) < 1.5 * seg_len + 1
            if split == "test":
                assert np.array_equal(s["cmf_noisy"], truth[(split, i, "cmf")])  # supplied field, lossless
                assert not any(k.startswith("err_") for k in s)
            else:
                assert "cmf_noisy" not in s and s["err_noise"].shape == (11, 3)
                assert np.abs(s["err_center_offset"]).max() > 0  # a perturbation was drawn
    # through the loader: train fields differ (not ablation (b)); test keeps the supplied field
    train = ShardDataset(out, split="train", crop=None, pad_multiple=1)
    for i in range(3):
        item = train[i]
        assert item["cmf_clean"].shape == item["cmf_noisy"].shape == (16, 16, 24)
        assert float((item["cmf_noisy"] - item["cmf_clean"]).abs().mean()) > 1e-3
    test = ShardDataset(out, split="test", crop=None, pad_multiple=1)
    item = test[1]
    assert np.array_equal(item["cmf_noisy"].numpy(), truth[("test", 1, "cmf")].transpose(2, 0, 1))
    s = read_sample(out / test_entry["file"], 1)
    ref = camera_motion_field(s["gyro_t_ns"], s["gyro_w"] @ s["R_imu_to_cam"].T, s["K"], crop=CROP, layout="chw")
    np.testing.assert_allclose(item["cmf_clean"].numpy(), ref, rtol=1e-5, atol=1e-5)
    assert man["splits"]["train"]["cmf_noisy"] == "error_model" and man["splits"]["test"]["cmf_noisy"] == "supplied"
    assert "offline" in man["splits"]["test"]["degradation"] and test_entry["samples"] == 2


def test_import_uint16_and_base1(tmp_path):
    src, truth = _fake(tmp_path, n_train=2, n_test=0, fields=False)
    sp = src / "train" / "GyroBlur-Synth_train_starting_point.txt"
    starts = truth[("train", "starts")]
    sp.write_text("".join(f"{s + 1}\n" for s in starts))
    out = tmp_path / "o"
    assert cli_main(["import-gyroblur", str(src), "--out", str(out), "--splits", "train", "--dtype", "uint16",
                     "--starting-point-base", "1", *CLI_CAM]) == 0
    s = read_sample(out / "shard-00000.h5", 1)
    assert int(s["window_start"]) == int(starts[1])
    assert np.array_equal(np.rint(s["sharp"] * 255).astype(np.uint8), truth[("train", 1, "sharp")])


def test_import_error_model_seeded_and_optional(tmp_path):
    src, _ = _fake(tmp_path, n_train=2, n_test=0, fields=False)
    args = ["import-gyroblur", str(src), "--splits", "train", *CLI_CAM]
    assert cli_main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli_main([*args, "--out", str(tmp_path / "b")]) == 0
    assert cli_main([*args, "--out", str(tmp_path / "c"), "--seed", "7"]) == 0
    assert cli_main([*args, "--out", str(tmp_path / "d"), "--no-error-model"]) == 0
    a, b, c, d = (read_sample(tmp_path / x / "shard-00000.h5", 1) for x in "abcd")
    assert np.array_equal(a["err_noise"], b["err_noise"])  # seeded: reproducible
    assert not np.array_equal(a["err_noise"], c["err_noise"])
    assert not any(k.startswith(("err_", "cmf_")) for k in d)
    item = ShardDataset(tmp_path / "d", split="train", crop=32)[1]
    assert np.array_equal(item["cmf_noisy"].numpy(), item["cmf_clean"].numpy())  # ablation (b), asked for
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["splits"]["train"]["cmf_noisy"] == "clean"


def test_import_errors_name_the_file(tmp_path, capsys):
    src, _ = _fake(tmp_path, n_train=2, n_test=1)
    (src / "train" / "sat_mask" / "000001.png").unlink()
    assert cli_main(["import-gyroblur", str(src), "--out", str(tmp_path / "o"), *CLI_CAM]) == 2
    assert "sat_mask/000001.png" in capsys.readouterr().err

    src2, _ = _fake(tmp_path / "b", n_train=2, n_test=1)
    (src2 / "train" / "GyroBlur-Synth_train_starting_point.txt").write_text("0\n55\n")
    assert cli_main(["import-gyroblur", str(src2), "--out", str(tmp_path / "o2"), *CLI_CAM]) == 2
    err = capsys.readouterr().err
    assert "GyroBlur-Synth_train_starting_point.txt: line 2" in err and "starting-point-base" in err

    src3, _ = _fake(tmp_path / "c", n_train=1, n_test=1)
    assert cli_main(["import-gyroblur", str(src3), "--out", str(tmp_path / "o3")]) == 2  # default 4KRD crop
    assert "expected the 1280x720 crop" in capsys.readouterr().err

    assert cli_main(["import-gyroblur", str(tmp_path / "nothing"), "--out", str(tmp_path / "o4")]) == 2
    assert "folder not found" in capsys.readouterr().err


def test_import_field_shape_mismatch(tmp_path, capsys):
    src, _ = _fake(tmp_path, n_train=1, n_test=1)
    np.save(src / "test" / "camera_motion_field" / "000000.npy", np.zeros((4, 4, 16), np.float32))
    assert cli_main(["import-gyroblur", str(src), "--out", str(tmp_path / "o"), *CLI_CAM]) == 2
    assert "000000.npy: field shape (4, 4, 16)" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["1,2,3", "a,b,c,d"])
def test_bad_crop_option(tmp_path, capsys, bad):
    src, _ = _fake(tmp_path, n_train=1, n_test=0, fields=False)
    assert cli_main(["import-gyroblur", str(src), "--out", str(tmp_path / "o"), "--crop", bad]) == 2
    assert "--crop" in capsys.readouterr().err
