"""``gyrobench infer`` end to end on synthetic captures (demo camera + fitted hand-shake), classical and a tiny
trained checkpoint; the time-offset calibration from the photo; ``gyrobench capture`` sub-commands."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gyrobench.capture import load_capture
from gyrobench.capture.fields import capture_motion_field, linear_photo
from gyrobench.capture.synthetic import make_synthetic_capture
from gyrobench.cli import main
from gyrobench.color import srgb_to_linear


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A synthetic 500x500 sRGB capture: demo camera, fitted hand-shake, 20 ms exposure, 10 ms readout."""
    return make_synthetic_capture(tmp_path_factory.mktemp("cap") / "kodim", image=3, seed=11, exposure_ms=20,
                                  readout_ms=10.0, offset_ms=4.0, focal_scale=2.0)


@pytest.fixture(scope="module")
def tiny_checkpoint(smoke_data, tmp_path_factory):
    """DeepGyro (width 16) trained for 3 steps on the smoke data: a real checkpoint from the trainer."""
    from gyrobench.demo import demo_config
    from gyrobench.train.trainer import train

    out = tmp_path_factory.mktemp("train")
    cfg = demo_config("deepgyro", smoke_data, crop=32, batch=2, steps=3, seconds=None)
    train(cfg, out / "run", show_progress=False)
    return out / "run" / "checkpoints" / "last.pt"


def test_synthetic_capture_is_what_it_says(capture):
    cap, folder = load_capture(capture)
    assert cap.source["synthetic"] is True and cap.image_encoding == "srgb"
    assert cap.time_offset_ns == 4_000_000 == cap.source["truth"]["time_offset_ns"]
    lin, how = linear_photo(cap, folder)
    raw = cv2.imread(str(folder / cap.image))[..., ::-1].astype(np.float32) / 255
    np.testing.assert_allclose(lin, srgb_to_linear(raw), atol=1e-6)  # decoded with the sRGB curve
    assert "sRGB curve" in how["decoding"] and how["bits"] == 8
    f = capture_motion_field(cap, folder, pad_multiple=8)
    assert f.shape == (16, 252, 252) and np.abs(f).max() > 0.5  # padded to 504 -> 252 grid rows


def _check_outputs(out, cap_dir, model):
    rec = json.loads((out / "infer.json").read_text())
    assert rec["model"] == model and rec["synthetic"] is True
    assert rec["input"]["image_encoding"] == "srgb" and "sRGB curve" in rec["input"]["decoding"]
    assert rec["field"]["readout_time_s"] == pytest.approx(0.01) and rec["field"]["time_offset_ns"] == 4_000_000
    s8 = cv2.imread(str(out / "restored_srgb.png"), cv2.IMREAD_UNCHANGED)
    l16 = cv2.imread(str(out / "restored_linear16.png"), cv2.IMREAD_UNCHANGED)
    assert s8.dtype == np.uint8 and l16.dtype == np.uint16 and s8.shape == l16.shape == (500, 500, 3)
    # the two outputs are the same image in two encodings
    enc = np.round(np.clip(
        __import__("gyrobench.color", fromlist=["x"]).linear_to_srgb(l16.astype(np.float64) / 65535), 0, 1)
        * 255)
    assert np.abs(enc - s8).max() <= 1
    assert cv2.imread(str(out / "field.png")).shape == (500, 500, 3)
    return rec


def test_infer_classical_end_to_end(capture, tmp_path):
    out = tmp_path / "inf"
    assert main(["infer", "--model", "classical", "--capture", str(capture), "--out", str(out)]) == 0
    rec = _check_outputs(out, capture, "classical")
    assert rec["checkpoint"] is None and rec["model_source"] == "non-learned"
    # the classical restoration is sharper than its input (gradient energy, linear light)
    lin_in = cv2.imread(str(out / "input_srgb.png"))[..., 1].astype(float)
    lin_out = cv2.imread(str(out / "restored_srgb.png"))[..., 1].astype(float)
    assert np.abs(np.diff(lin_out, axis=1)).mean() > 1.05 * np.abs(np.diff(lin_in, axis=1)).mean()


@pytest.mark.slow
def test_infer_with_trained_checkpoint(capture, tiny_checkpoint, tmp_path):
    out = tmp_path / "inf"
    assert main(["infer", "--checkpoint", str(tiny_checkpoint), "--capture", str(capture), "--out", str(out)]) == 0
    rec = _check_outputs(out, capture, "deepgyro")
    assert rec["model_source"] == "checkpoint" and len(rec["checkpoint_sha256"]) == 64


def test_infer_errors_are_one_line(capture, tmp_path, capsys):
    rc = main(["infer", "--checkpoint", str(tmp_path / "none.pt"), "--capture", str(capture)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "checkpoint not found" in err[0]
    rc = main(["infer", "--model", "classical", "--capture", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "capture.json" in err[0] and "gyrobench capture import" in err[0]


@pytest.mark.slow
def test_time_offset_calibration_on_a_synthetic_capture(tmp_path):
    """The offset is stored as 0 but is really 6.5 ms; the photo's blur recovers it to <= 2 ms."""
    d = make_synthetic_capture(tmp_path / "c", image=5, seed=3, exposure_ms=20, offset_ms=6.5, store_offset=False,
                               focal_scale=2.0)
    rc = main(["capture", "calibrate", str(d), "--range-ms", "10", "--out", str(tmp_path / "cal"), "--write"])
    assert rc == 0
    res = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert abs(res["offset_error_ms"]) <= 2.0
    assert (tmp_path / "cal" / "calibration.png").stat().st_size > 1000
    cap, _ = load_capture(d)
    assert cap.time_offset_ns == res["time_offset_ns"]  # --write stored it


def test_blur_field_commands(capture, tmp_path):
    assert main(["capture", "blur-field", str(capture), "--style", "deepgyro", "--scale", "0.5", "--out",
                 str(tmp_path)]) == 0
    bx = cv2.imread(str(tmp_path / "blurx" / "kodim.png"), cv2.IMREAD_UNCHANGED)
    by = cv2.imread(str(tmp_path / "blury" / "kodim.png"), cv2.IMREAD_UNCHANGED)
    assert bx.shape == by.shape == (250, 250) and bx.dtype == np.uint8
    assert (by <= 128).all() and (np.abs(bx.astype(int) - 128) + np.abs(by.astype(int) - 128)).max() >= 1
    assert main(["capture", "blur-field", str(capture), "--style", "cmf", "--out", str(tmp_path)]) == 0
    assert np.load(tmp_path / "kodim.npy").shape == (250, 250, 16)
