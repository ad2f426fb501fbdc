"""Synthesis pipeline: smoke run, determinism vs workers, zero-rotation / pure-yaw geometry, anchor alignment,
SIGKILL + resume, dask cluster, clear errors for bad sources (issue 4 "Done when")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gyrobench.builder.pipeline import shard_tasks, synthesize
from gyrobench.builder.recipe import load_recipe
from gyrobench.builder.seeding import sample_seedseq
from gyrobench.cli import main as cli_main
from gyrobench.data.shards import open_dataset, read_sample, verify_dataset
from gyrobench.errors import ImageError, ShardError

ROOT = Path(__file__).resolve().parents[1]


def _write_png(path: Path, rgb_u8: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb_u8[..., ::-1]))
    return path


def _write_gyro(path: Path, w_const, n: int = 40, rate_hz: float = 200.0) -> Path:
    t = (np.arange(n) * (1e9 / rate_hz)).astype(np.int64) + 10**12
    w = np.tile(np.asarray(w_const, dtype=np.float64), (n, 1))
    path.write_text("".join(f"{ti} {a:.12f} {b:.12f} {c:.12f}\n" for ti, (a, b, c) in zip(t, w)))
    return path


def _recipe(tmp: Path, *, images, gyro: dict, W=64, H=48, crop=(8, 8, 48, 32), fx=60.0, splits=None,
            extra: dict | None = None, name="t") -> Path:
    d = {
        "name": name, "seed": 7,
        "sources": {"images": images, "gyro": gyro},
        "camera": {"width": W, "height": H, "fx": fx, "fy": fx, "cx": W / 2, "cy": H / 2, "crop": list(crop),
                   "image_fit": "exact"},
        "error_model": {},
        "splits": splits or [{"name": "train", "size": 2}],
        "storage": {"shard_size": 2},
    }
    for k, v in (extra or {}).items():
        d[k] = v
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def _srgb_lin(u8):
    x = u8.astype(np.float64) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


# ----------------------------------------------------------------------------------------- smoke & determinism
@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    synthesize("smoke", out, workers=1)
    return out


def test_smoke_runs_and_verifies(smoke_dir):
    man = json.loads((smoke_dir / "manifest.json").read_text())
    assert man["splits"]["train"]["samples"] == 6 and man["splits"]["test"]["samples"] == 3
    assert verify_dataset(smoke_dir)["samples"] == 9
    ds = open_dataset(smoke_dir)
    assert len(ds) == 9 and ds.splits == ["train", "test"]
    s = ds.read(0)
    assert s["sharp"].shape == (48, 48, 3) and s["sharp"].dtype == np.float32
    assert s["blurred"].shape == (48, 48, 3) and 0 <= s["blurred"].min() and s["blurred"].max() <= 1
    assert s["gyro_t_ns"].shape == (11,) and s["gyro_w"].shape == (11, 3)
    assert s["sample_id"] == "train-000000"
    # blurred differs from sharp (real hand-shake), test split carries degradation draws, train does not
    assert np.abs(s["blurred"] - s["sharp"]).mean() > 1e-3
    t = read_sample(ds.split("test")[0].shard, 0)
    assert any(k.startswith("deg_") for k in t) and not any(k.startswith("deg_") for k in s)
    # no absolute paths, no timestamps in the shard list
    for e in man["shards"]:
        assert not os.path.isabs(e["file"]) and set(e) == {"file", "sha256", "bytes", "samples", "split",
                                                           "first_index"}


def test_same_manifest_with_two_workers(smoke_dir, tmp_path):
    man1 = json.loads((smoke_dir / "manifest.json").read_text())
    man2 = synthesize("smoke", tmp_path / "w2", workers=2)
    assert man2["shards"] == man1["shards"]


def test_error_model_null_stores_no_draws(tmp_path):
    synthesize(load_recipe("smoke", ["error_model=null"]), tmp_path / "o", limit=1)
    assert not any(k.startswith("err_") for k in read_sample(tmp_path / "o" / "shard-00000.h5", 0))


def test_sample_rng_depends_only_on_seed_split_index():
    a = sample_seedseq(1, "train", 5).generate_state(4)
    assert np.array_equal(a, sample_seedseq(1, "train", 5).generate_state(4))
    assert not np.array_equal(a, sample_seedseq(1, "test", 5).generate_state(4))
    assert not np.array_equal(a, sample_seedseq(1, "train", 6).generate_state(4))


def test_limit_and_shard_plan():
    r = load_recipe("smoke")
    tasks = shard_tasks(r)
    assert [t["count"] for t in tasks] == [2, 2, 2, 2, 1]
    assert [t["file"] for t in tasks] == [f"shard-{i:05d}.h5" for i in range(5)]
    assert [t["count"] for t in shard_tasks(r, limit=1)] == [1, 1]


# ----------------------------------------------------------------------------------------- geometry
def test_zero_rotation_window_gives_blurred_equal_sharp(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    _write_png(tmp_path / "imgs" / "a.png", img)
    gyro = _write_gyro(tmp_path / "g.txt", (0.0, 0.0, 0.0))
    r = _recipe(tmp_path, images="imgs", gyro={"kind": "files", "file": str(gyro)})
    synthesize(load_recipe(r), tmp_path / "out")
    s = read_sample(tmp_path / "out" / "shard-00000.h5", 0)
    # equal up to one uint16 step (float32 grid normalisation and averaging of identical warps)
    assert np.abs(s["blurred"] - s["sharp"]).max() <= 1 / 65535 + 1e-7
    assert np.mean(s["blurred"] == s["sharp"]) > 0.95
    # and the sharp crop is exactly the decoded source at the crop (independent sRGB decode here)
    ref = _srgb_lin(img)[8:40, 8:56]
    assert np.abs(s["sharp"] - ref).max() <= 0.5 / 65535 + 1e-7
    # zero motion: the saturation mask is the clipped-pixel mask of the sharp crop itself (rsblur.md D3)
    assert np.array_equal(s["sat_mask"], (img[8:40, 8:56] == 255).astype(np.float32))
    assert s["valid"].all()


def test_pure_yaw_blur_extent_matches_closed_form(tmp_path):
    """A bright vertical line under a constant yaw rate smears horizontally over 2 fx tan(theta/2) px
    (theta = omega * exposure, mid-exposure anchor), measured on the blurred image itself."""
    W, H, fx = 96, 48, 60.0
    img = np.zeros((H, W, 3), np.uint8)
    img[:, W // 2] = 255
    _write_png(tmp_path / "imgs" / "line.png", img)
    omega, rate = 1.2, 200.0
    gyro = _write_gyro(tmp_path / "g.txt", (0.0, omega, 0.0), rate_hz=rate)
    r = _recipe(tmp_path, images="imgs", gyro={"kind": "files", "file": str(gyro)}, W=W, H=H,
                crop=(8, 8, 80, 32), fx=fx)
    synthesize(load_recipe(r), tmp_path / "out")
    s = read_sample(tmp_path / "out" / "shard-00000.h5", 0)
    theta = omega * 10 / rate
    expected = 2 * fx * np.tan(theta / 2)  # centre column, symmetric about the anchor
    prof = s["blurred"][16, :, 1].astype(np.float64)
    xs = np.arange(prof.size) + 8
    nz = xs[prof > 1e-3]
    measured = nz.max() - nz.min()  # support of the smeared 1-px line = extent + up to 1 px of bilinear spread
    assert abs(measured - expected) <= 1.5, (measured, expected)
    assert abs(float(s["blur_extent_px"]) - expected) < 0.05
    # energy is conserved: the line's total (linear) intensity spreads but is not lost
    assert abs(prof.sum() - 1.0) < 0.02
    # purely horizontal: every row identical
    assert np.abs(s["blurred"][4] - s["blurred"][28]).max() < 1e-4


def test_sharp_aligns_with_motion_field_anchor(tmp_path):
    """The stored sharp frame is the field's anchor: a dot at x in the sharp image is smeared along the
    trajectory the stored motion field gives for x, so the blurred dot's centroid equals x plus the mean
    trajectory offset (an asymmetric, accelerating motion makes the anchor choice visible)."""
    from gyrobench.gyro.cmf import camera_motion_field

    W, H, fx = 96, 64, 70.0
    img = np.zeros((H, W, 3), np.uint8)
    cx, cy = 48, 32
    img[cy - 1:cy + 2, cx - 1:cx + 2] = 255
    _write_png(tmp_path / "imgs" / "dot.png", img)
    n, rate = 40, 200.0
    t = (np.arange(n) * (1e9 / rate)).astype(np.int64)
    w = np.zeros((n, 3))
    w[:, 1] = np.linspace(1.0, 9.0, n)  # accelerating yaw
    w[:, 0] = 0.4
    (tmp_path / "g.txt").write_text("".join(f"{a} {b[0]} {b[1]} {b[2]}\n" for a, b in zip(t, w)))
    r = _recipe(tmp_path, images="imgs", gyro={"kind": "files", "file": str(tmp_path / "g.txt")}, W=W, H=H,
                crop=(0, 0, W, H), fx=fx)
    synthesize(load_recipe(r), tmp_path / "out")
    s = read_sample(tmp_path / "out" / "shard-00000.h5", 0)
    sharp_c = _centroid(s["sharp"][..., 1])
    assert np.allclose(sharp_c, (cx, cy), atol=1e-3)
    field = camera_motion_field(s["gyro_t_ns"], s["gyro_w"], s["K"], crop=tuple(s["crop"]), layout="hwc",
                                dtype=np.float64)
    seg = field[cy // 2, cx // 2].reshape(-1, 2)  # (M, 2) consecutive displacements at the dot
    M = seg.shape[0]
    pos = np.vstack([[0, 0], np.cumsum(seg, axis=0)])
    pos -= pos[M // 2]  # positions relative to the anchor (mid exposure)
    # mean position along the path (trapezoid over the M segments) = predicted centroid offset
    pred = (pos[:-1] + pos[1:]).mean(axis=0) / 2
    got = _centroid(s["blurred"][..., 1]) - np.array([cx, cy])
    assert np.linalg.norm(pos[-1] - pos[0]) > 8  # the motion is substantial
    assert np.allclose(got, pred, atol=0.35), (got, pred)


def _centroid(a):
    a = np.asarray(a, dtype=np.float64)
    ys, xs = np.mgrid[: a.shape[0], : a.shape[1]]
    return np.array([(a * xs).sum() / a.sum(), (a * ys).sum() / a.sum()])


# ----------------------------------------------------------------------------------------- resume
def test_sigkill_then_rerun_gives_same_manifest(tmp_path):
    args = ["--set", "splits.0.size=16", "--set", "splits.1.size=4", "--set", "storage.shard_size=2"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "gyrobench", "-q", "synth", "smoke", "--out"]
    out = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, str(out), *args], env=env, cwd=ROOT)
    t0 = time.time()
    while not (out / "shard-00000.h5").exists() and time.time() - t0 < 120:
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_mid_run = not (out / "manifest.json").exists()
    written = sorted(p.name for p in out.glob("shard-*.h5"))
    assert subprocess.run([*cmd, str(out), *args], env=env, cwd=ROOT).returncode == 0
    assert subprocess.run([*cmd, str(tmp_path / "clean"), *args], env=env, cwd=ROOT).returncode == 0
    a = json.loads((out / "manifest.json").read_text())
    b = json.loads((tmp_path / "clean" / "manifest.json").read_text())
    assert a["shards"] == b["shards"]
    assert not list(out.glob(".shard-*"))  # temp files of the killed shard are gone
    assert killed_mid_run and written, "the run finished before the kill; the test did not exercise resume"


def test_rerun_keeps_complete_shards(tmp_path, caplog):
    out = tmp_path / "d"
    synthesize("smoke", out, limit=2)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.h5")}
    (out / "shard-00001.h5").unlink()
    synthesize("smoke", out, limit=2)
    assert all((out / n).stat().st_mtime_ns == m for n, m in mtimes.items() if n != "shard-00001.h5")
    assert (out / "shard-00001.h5").is_file()
    verify_dataset(out)
    ref = json.loads((out / "manifest.json").read_text())["shards"]
    p = out / "shard-00000.h5"  # a truncated shard (e.g. copied half-way) is redone, not kept
    p.write_bytes(p.read_bytes()[:2000])
    assert synthesize("smoke", out, limit=2)["shards"] == ref


def test_renderer_recorded_agrees_and_never_mixed_on_resume(smoke_dir, tmp_path):
    """issue 11: the renderer is recorded in the manifest and every shard; the torch and OpenCV renderers agree
    (stored uint16 within 1e-4 + one step); a resume with another renderer redoes the shards."""
    from gyrobench.data.shards import read_shard_attrs

    man_cv = json.loads((smoke_dir / "manifest.json").read_text())
    assert man_cv["created"]["renderer"].startswith("opencv-warpPerspective")
    assert read_shard_attrs(smoke_dir / "shard-00000.h5")["renderer"] == man_cv["created"]["renderer"]
    out = tmp_path / "t"
    man_t = synthesize("smoke", out, renderer="torch", limit=2)
    assert man_t["created"]["renderer"].startswith("torch-grid_sample")
    for k in range(2):
        a = read_sample(smoke_dir / "shard-00000.h5", k)
        b = read_sample(out / "shard-00000.h5", k)
        assert np.abs(a["blurred"] - b["blurred"]).max() <= 1e-4 + 1 / 65535
        assert np.abs(a["sat_mask"] - b["sat_mask"]).max() <= 1 / 255 + 1e-6
        np.testing.assert_array_equal(a["sharp"], b["sharp"])
        np.testing.assert_array_equal(a["valid"], b["valid"])
    mt = (out / "shard-00000.h5").stat().st_mtime_ns
    # issue 13: a finished dataset of another renderer is not replaced without --overwrite ...
    with pytest.raises(ShardError, match="renderer: 'torch-grid_sample"):
        synthesize("smoke", out, renderer="opencv", limit=2)
    assert (out / "shard-00000.h5").stat().st_mtime_ns == mt
    man_cv2 = synthesize("smoke", out, renderer="opencv", limit=2, overwrite=True)
    assert (out / "shard-00000.h5").stat().st_mtime_ns != mt  # ... and with it every shard is redone, none kept
    first = lambda man: next(e for e in man["shards"] if e["file"] == "shard-00000.h5")  # noqa: E731
    assert first(man_cv2) == first(man_cv)  # train shard 0 is the same task with or without --limit 2


def test_stored_fields_match_recomputed(tmp_path):
    """store_cmf: float16 caches the clean field (= the gyro core's field of the stored window) and the noisy
    field of the stored error draw."""
    from gyrobench.gyro.cmf import camera_motion_field
    from gyrobench.gyro.error_model import ErrorDraw, noisy_camera_motion_field

    synthesize(load_recipe("smoke", ["storage.store_cmf=float16"]), tmp_path / "o", limit=1)
    s = read_sample(tmp_path / "o" / "shard-00000.h5", 0)
    crop = tuple(int(v) for v in s["crop"])
    clean = camera_motion_field(s["gyro_t_ns"], s["gyro_w"], s["K"], crop=crop, layout="hwc")
    assert s["cmf_clean"].shape == (24, 24, 16)
    assert np.allclose(s["cmf_clean"], clean, atol=2e-3, rtol=1e-3)
    draws = {k: v for k, v in s.items() if k.startswith("err_")}
    noisy = noisy_camera_motion_field(s["gyro_t_ns"], s["gyro_w"], s["K"], ErrorDraw.from_arrays(draws), crop=crop,
                                      layout="hwc")
    assert np.allclose(s["cmf_noisy"], noisy, atol=2e-3, rtol=1e-3)
    assert not np.allclose(s["cmf_noisy"], s["cmf_clean"])


# ----------------------------------------------------------------------------------------- dask
@pytest.mark.dist
def test_dask_local_cluster_gives_same_manifest(smoke_dir, tmp_path):
    from dask.distributed import Client, LocalCluster

    # One thread per in-process worker: with two, two shards are made at once in one process, and on 2026-12-08 one
    # full run in five wrote a different shard-00000 (a race on process-wide state, not yet found: docs/datasets.md, "known
    # issue"); dask workers are processes in real clusters.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        man = synthesize("smoke", tmp_path / "dask", scheduler=client)
    ref = json.loads((smoke_dir / "manifest.json").read_text())
    assert man["shards"] == ref["shards"]


@pytest.mark.dist
def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    rc = cli_main(["synth", "smoke", "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert rc == 2 and "--scheduler tcp://127.0.0.1:9: cannot connect" in err


# ----------------------------------------------------------------------------------------- errors
def test_missing_image_error_names_file_cli(tmp_path, capsys):
    gyro = _write_gyro(tmp_path / "g.txt", (0.1, 0.0, 0.0))
    r = _recipe(tmp_path, images=["nope/missing.png"], gyro={"kind": "files", "file": str(gyro)})
    rc = cli_main(["synth", str(r), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "missing.png" in err and "not found" in err


def test_image_smaller_than_crop_error_names_file(tmp_path, capsys):
    _write_png(tmp_path / "imgs" / "small.png", np.zeros((20, 30, 3), np.uint8))
    gyro = _write_gyro(tmp_path / "g.txt", (0.1, 0.0, 0.0))
    r = _recipe(tmp_path, images="imgs", gyro={"kind": "files", "file": str(gyro)})
    with pytest.raises(ImageError, match=r"small\.png.*smaller than the 48x32 crop"):
        synthesize(load_recipe(r), tmp_path / "o")
    rc = cli_main(["synth", str(r), "--out", str(tmp_path / "o2")])
    assert rc == 2 and "small.png" in capsys.readouterr().err


def test_gyro_file_too_short_error(tmp_path):
    _write_png(tmp_path / "imgs" / "a.png", np.zeros((48, 64, 3), np.uint8))
    gyro = _write_gyro(tmp_path / "g.txt", (0.1, 0.0, 0.0), n=5)
    r = _recipe(tmp_path, images="imgs", gyro={"kind": "files", "file": str(gyro)})
    with pytest.raises(Exception, match="g.txt"):
        synthesize(load_recipe(r), tmp_path / "o")


def test_starting_points_file_used_and_checked(tmp_path):
    _write_png(tmp_path / "imgs" / "a.png", np.zeros((48, 64, 3), np.uint8))
    gyro = _write_gyro(tmp_path / "g.txt", (0.1, 0.0, 0.0), n=40)
    (tmp_path / "sp.txt").write_text("3\n20\n")
    r = _recipe(tmp_path, images="imgs", gyro={"kind": "files", "file": str(gyro), "starting_points": "sp.txt",
                                               "starting_point_base": 1})
    synthesize(load_recipe(r), tmp_path / "o")
    starts = [int(read_sample(tmp_path / "o" / "shard-00000.h5", i)["window_start"]) for i in range(2)]
    assert starts == [2, 19]
    (tmp_path / "sp.txt").write_text("3\n35\n")
    with pytest.raises(Exception, match=r"sp\.txt: line 2"):
        synthesize(load_recipe(r), tmp_path / "o2")


@given(st.lists(st.integers(1, 40), min_size=2, max_size=40), st.integers(2, 12), st.booleans())
@settings(max_examples=60, deadline=None)
def test_valid_window_starts_property(dts_ms, samples, exclude):
    """Vectorised gap exclusion == brute force over every window (any timestamps, any window length)."""
    from gyrobench.builder.sources import valid_window_starts

    t = np.concatenate([[0], np.cumsum(np.asarray(dts_ms, dtype=np.int64) * 1_000_000)])
    med = np.median(np.diff(t))
    brute = [s for s in range(len(t) - samples + 1)
             if not exclude or all(t[k + 1] - t[k] <= 1.5 * med for k in range(s, s + samples - 1))]
    assert valid_window_starts(t, samples, exclude, 1.5).tolist() == brute


def test_random_windows_avoid_gaps(tmp_path):
    from gyrobench.builder.sources import valid_window_starts

    t = np.arange(30, dtype=np.int64) * 5_000_000
    t[15:] += 20_000_000  # one 25 ms gap between samples 14 and 15
    starts = valid_window_starts(t, 11, True, 1.5)
    # independent: a window s..s+10 contains interval 14->15 iff s <= 14 <= s+9
    expect = [s for s in range(30 - 11 + 1) if not (s <= 14 <= s + 9)]
    assert starts.tolist() == expect
    assert valid_window_starts(t, 11, False, 1.5).tolist() == list(range(20))


@pytest.mark.slow
def test_demo_recipe_runs(tmp_path):
    man = synthesize("demo", tmp_path / "demo", workers=2)
    assert man["splits"]["train"]["samples"] == 48 and man["splits"]["test"]["samples"] == 12
    s = read_sample(tmp_path / "demo" / man["shards"][0]["file"], 0)
    assert s["sharp"].shape == (480, 480, 3)
    assert np.allclose(s["K"], [[561.5, 0, 250], [0, 561.5, 250], [0, 0, 1]])


def test_real_recording_windows(gyro_train_path, tmp_path):
    """Windows drawn from the shared GyroBlur-Synth training recording (skips in a user's clone): 11 consecutive
    recorded samples, never across its one 25.6 ms gap."""
    from gyrobench.gyro.recording import load_gyro

    r = load_recipe("smoke", ["sources.gyro.kind=files", f"sources.gyro.file={gyro_train_path}"])
    synthesize(r, tmp_path / "o", limit=2)
    rec = load_gyro(gyro_train_path)
    dt_med = np.median(np.diff(rec.t_ns))
    for f in ("shard-00000.h5", "shard-00001.h5"):
        for i in range(2):
            s = read_sample(tmp_path / "o" / f, i)
            st = int(s["window_start"])
            assert np.array_equal(s["gyro_t_ns"], rec.t_ns[st:st + 11])
            assert np.array_equal(s["gyro_w"], rec.w[st:st + 11])
            assert np.diff(s["gyro_t_ns"]).max() < 1.5 * dt_med


@pytest.mark.slow
def test_gyroblur_synth_recipe_end_to_end(gyro_train_path, tmp_path, monkeypatch):
    """The paper-scale recipe, limited to one sample per split: 4KRD-sized stand-ins (upscaled Kodak) in
    $GYROBENCH_4KRD/{train,test}, the shared recording as both gyro files."""
    from gyrobench.assets import kodak_paths

    for split, idx in (("train", 0), ("test", 1)):
        img = cv2.imread(str(kodak_paths()[idx]))
        d = tmp_path / "4KRD" / split
        d.mkdir(parents=True)
        cv2.imwrite(str(d / "frame0.png"), cv2.resize(img, (1920, 1080), interpolation=cv2.INTER_CUBIC))
    g = tmp_path / "gyro"
    g.mkdir()
    for name in ("gyro_train.txt", "gyro_test.txt"):
        (g / name).symlink_to(gyro_train_path)
    monkeypatch.setenv("GYROBENCH_4KRD", str(tmp_path / "4KRD"))
    monkeypatch.setenv("GYROBENCH_GYRO", str(g))
    man = synthesize(ROOT / "gyrobench" / "recipes" / "gyroblur-synth.yaml", tmp_path / "out", limit=1)
    assert {e["split"] for e in man["shards"]} == {"train", "test"}
    for e in man["shards"]:
        s = read_sample(tmp_path / "out" / e["file"], 0)
        assert s["sharp"].shape == s["blurred"].shape == (720, 1280, 3)
        assert tuple(s["crop"]) == (320, 180, 1280, 720) and s["n_poses"] >= 81
        assert s["source_image"] == "frame0.png"
        assert (tmp_path / "out" / e["file"]).stat().st_size < 9e6


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_decode_lookup_table_matches_srgb_formula(tmp_path, dtype):
    """issue 11: the lookup-table decode equals the sRGB EOTF (float64 closed form here) for 8/16-bit PNGs,
    including grey and BGRA files."""
    import cv2

    from gyrobench.builder.sources import _decode_linear

    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max
    rgb = rng.integers(0, top + 1, size=(17, 23, 3), dtype=np.int64).astype(dtype)
    rgb[0, :3] = [[0, 0, 0], [top, top, top], [1, 2, 3]]
    p = tmp_path / "a.png"
    cv2.imwrite(str(p), rgb[..., ::-1])
    lin = _decode_linear(p)
    assert lin.dtype == np.float32 and lin.shape == (17, 23, 3)
    np.testing.assert_allclose(lin, _srgb_lin(rgb.astype(np.float64) * (255 / top)), atol=2e-7, rtol=1e-6)
    cv2.imwrite(str(p), rgb[..., 0])  # grey
    np.testing.assert_array_equal(_decode_linear(p), np.repeat(lin[..., :1], 3, axis=2))
    cv2.imwrite(str(p), np.concatenate([rgb[..., ::-1], rgb[..., :1]], axis=2))  # BGRA
    np.testing.assert_array_equal(_decode_linear(p), lin)
