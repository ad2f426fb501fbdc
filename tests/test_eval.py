"""Evaluation and results records: schema, values against independent computations, intervals, CLI errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gyrobench.cli import main as cli_main
from gyrobench.errors import GyrobenchError
from gyrobench.evaluate import EvalConfig, evaluate, field_path_length_px
from gyrobench.results import mean_ci, read_record, summarize_metric, write_record

RECORD_FIELDS = ("model", "label", "options", "checkpoint", "checkpoint_sha256", "dataset",
                 "dataset_manifest_sha256", "recipe_sha256", "protocol", "protocol_options", "metrics",
                 "unavailable", "per_image_csv", "crops", "command", "versions", "date", "machine", "git_commit")


@pytest.fixture(scope="module")
def big_data(tmp_path_factory):
    """Smoke recipe with 200x104 test images (room for two NIQE blocks), 2 test samples."""
    from gyrobench.builder.pipeline import synthesize
    from gyrobench.builder.recipe import load_recipe

    recipe = load_recipe("smoke", overrides=["camera.width=224", "camera.height=128", "camera.crop_size=[208, 112]",
                                                 "camera.image_fit=center_crop"])
    out = tmp_path_factory.mktemp("big")
    synthesize(recipe, out, limit=2)
    return out


def _shard_pairs(root, split="test"):
    """(sample_id, blurred, sharp) float32 HWC straight from the HDF5 files (independent of the loader)."""
    import h5py

    man = json.loads((root / "manifest.json").read_text())
    out = []
    for e in man["shards"]:
        if e["split"] != split:
            continue
        with h5py.File(root / e["file"], "r") as f:
            for i in range(f["blurred"].shape[0]):
                scale = float(np.iinfo(f["blurred"].dtype).max)
                sid = f["sample_id"][i]
                sid = sid.decode() if isinstance(sid, bytes) else str(sid)
                out.append((sid, f["blurred"][i] / np.float32(scale), f["sharp"][i] / np.float32(scale)))
    return out


def test_identity_record_matches_skimage_and_schema(smoke_data, tmp_path):
    path = evaluate(EvalConfig(model="identity", data=str(smoke_data), out=str(tmp_path / "ev"),
                               metrics=("psnr", "ssim", "niqe", "topiq_nr"), command="pytest"))
    rec = read_record(path)
    for key in RECORD_FIELDS:
        assert key in rec, key
    assert rec["format"] == "gyrobench-results/1" and rec["model"] == "identity"
    assert rec["protocol"] == "gyrodeblurnet_official" and rec["protocol_options"]["fr_quantize"] == "truncate"
    man_bytes = (smoke_data / "manifest.json").read_bytes()
    assert rec["dataset_manifest_sha256"] == hashlib.sha256(man_bytes).hexdigest()
    assert rec["recipe_sha256"] == json.loads(man_bytes)["recipe_sha256"]
    # topiq: never a number; niqe: images too small -> unavailable with the reason
    assert "topiq_nr" in rec["unavailable"] and "topiq_nr" not in rec["metrics"]
    assert "niqe" in rec["unavailable"] and "96" in rec["unavailable"]["niqe"]
    # per-image values against scikit-image on the shard contents (official: float32 x255 truncated)
    df = pd.read_csv(tmp_path / "ev" / rec["per_image_csv"])
    assert list(df.columns[:4]) == ["sample_id", "psnr", "ssim", "blur_extent_px"]
    pairs = _shard_pairs(smoke_data)
    assert len(df) == len(pairs) == rec["metrics"]["psnr"]["n"]
    for sid, blurred, sharp in pairs:
        b8 = (np.clip(blurred, 0, 1) * np.float32(255)).astype(np.uint8)
        s8 = (np.clip(sharp, 0, 1) * np.float32(255)).astype(np.uint8)
        row = df[df.sample_id == sid].iloc[0]
        assert row.psnr == pytest.approx(peak_signal_noise_ratio(s8, b8), abs=1e-5)
        assert row.ssim == pytest.approx(structural_similarity(s8, b8, channel_axis=2), abs=1e-5)
    assert rec["metrics"]["psnr"]["mean"] == pytest.approx(df.psnr.mean(), abs=1e-9)
    lo, hi = rec["metrics"]["psnr"]["ci95"]
    assert lo < rec["metrics"]["psnr"]["mean"] < hi
    # crops exist and are display PNGs of the right size
    import cv2

    assert rec["crops"]
    for c in rec["crops"]:
        for key in ("blurred", "restored", "sharp"):
            im = cv2.imread(str(tmp_path / "ev" / c[key]), cv2.IMREAD_UNCHANGED)
            assert im is not None and im.dtype == np.uint8 and im.shape[2] == 3
    # the leaderboard's loader accepts the record
    from gyrobench.leaderboard import records
    r = records.load_record(path)
    assert r.metrics["psnr"].mean == pytest.approx(rec["metrics"]["psnr"]["mean"])


def test_srgb8_protocol_changes_scores(smoke_data, tmp_path):
    cfg = EvalConfig(model="identity", data=str(smoke_data), out=str(tmp_path / "a"), metrics=("psnr",))
    a = read_record(evaluate(cfg))
    b = read_record(evaluate(dataclasses.replace(cfg, out=str(tmp_path / "b"), protocol="srgb8")))
    assert b["protocol"] == "srgb8" and b["protocol_options"]["fr_transfer"] == "srgb"
    assert a["metrics"]["psnr"]["mean"] != pytest.approx(b["metrics"]["psnr"]["mean"], abs=1e-3)


def test_nr_metrics_on_big_images(big_data, tmp_path):
    rec = read_record(evaluate(EvalConfig(model="identity", data=str(big_data), out=str(tmp_path / "ev"),
                                          metrics=("psnr", "niqe", "topiq_nr"), save_images=True)))
    assert rec["metrics"]["niqe"]["lower_better"] is True and rec["metrics"]["niqe"]["n"] == rec["n_images"]
    assert rec["metrics"]["niqe"]["full_reference"] is False
    assert "topiq_nr" in rec["unavailable"]
    assert len(list((tmp_path / "ev" / "restored").glob("*.png"))) == rec["n_images"]


def test_checkpoint_evaluation(smoke_data, tmp_path):
    from gyrobench.models import build
    from gyrobench.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    net = build("nafnet", width=8, enc_blk_nums=[1, 1, 1, 1])
    ckpt = save_checkpoint(tmp_path / "tiny.pt", model="nafnet", options=dict(net.options),
                           state_dict=net.state_dict(), step=7, config={"name": "tiny"})
    rec = read_record(evaluate(EvalConfig(checkpoint=str(ckpt), data=str(smoke_data), out=str(tmp_path / "ev"),
                                          metrics=("psnr", "ssim"))))
    assert rec["model"] == "nafnet" and rec["options"]["width"] == 8
    assert rec["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert rec["train"]["step"] == 7 and rec["model_source"] == "checkpoint"
    assert math.isfinite(rec["metrics"]["psnr"]["mean"])


def test_cli_eval_and_errors(smoke_data, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = cli_main(["eval", "--model", "identity", "--data", str(smoke_data), "--out", str(out),
                   "--metrics", "psnr", "--ci", "bootstrap"])
    assert rc == 0
    rec = read_record(out / "results.json")
    assert "bootstrap" in rec["metrics"]["psnr"]["ci_method"] and rec["command"].startswith("gyrobench")
    cases = [
        (["eval", "--data", str(smoke_data)], "--checkpoint"),
        (["eval", "--model", "nafnet", "--data", str(smoke_data)], "learned"),
        (["eval", "--model", "identity", "--data", str(tmp_path / "missing")], "manifest"),
        (["eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(smoke_data)], "not found"),
        (["eval", "--model", "identity", "--data", str(smoke_data), "--metrics", "psnr,foo"], "unknown metric"),
        (["eval", "--model", "classical", "--data", str(smoke_data), "--options", "{bad"], "--options"),
    ]
    for argv, needle in cases:
        capsys.readouterr()
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("gyrobench: error:") and needle in err, (argv, err)
        assert len(err.strip().splitlines()) == 1


def test_pickled_code_checkpoint_refused_through_eval(smoke_data, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    torch.save({"format": "gyrobench-checkpoint/1", "model": "nafnet", "options": {}, "state_dict": {},
                "evil": GyrobenchError("x")}, bad)
    assert cli_main(["eval", "--checkpoint", str(bad), "--data", str(smoke_data)]) == 2
    assert "refused" in capsys.readouterr().err


def test_mean_ci_t_and_bootstrap():
    v = [1.0, 2.0, 3.0, 4.0, 10.0]
    mean, lo, hi = mean_ci(v, "t")
    s = np.std(v, ddof=1)
    half = 2.7764451051977987 * s / math.sqrt(5)  # t_{0.975, 4} from tables
    assert (mean, lo, hi) == pytest.approx((4.0, 4.0 - half, 4.0 + half), abs=1e-9)
    b1, b2 = mean_ci(v, "bootstrap", seed=3), mean_ci(v, "bootstrap", seed=3)
    assert b1 == b2 and b1[1] < 4.0 < b1[2] and b1[1] >= 1.0 and b1[2] <= 10.0
    assert mean_ci([5.0], "t") == (5.0, None, None)
    summ = summarize_metric([30.0, float("inf"), 32.0], lower_better=False, full_reference=True)
    assert summ["n"] == 2 and summ["n_nonfinite"] == 1 and summ["mean"] == 31.0
    with pytest.raises(GyrobenchError):
        mean_ci([1.0, 2.0], "jackknife")


def test_write_record_is_strict_json(tmp_path):
    rec = {"model": "x", "label": "x", "options": {}, "uses_gyro": False, "model_source": "none",
           "checkpoint": None, "checkpoint_sha256": None, "dataset": "d", "dataset_manifest_sha256": "0" * 64,
           "recipe_sha256": None, "split": "test", "protocol": "srgb8", "protocol_options": {}, "metrics": {},
           "unavailable": {}, "per_image_csv": "per_image.csv", "crops": [], "n_images": 0,
           "blur_extent_px": {}, "timing": {"v": float("nan"), "w": np.float32(2)}, "command": "gyrobench eval",
           "versions": {}, "date": "2026-12-03", "machine": {}, "git_commit": None}
    p = write_record(tmp_path / "r.json", rec)
    text = p.read_text()
    assert "NaN" not in text and json.loads(text)["timing"]["v"] is None and json.loads(text)["timing"]["w"] == 2.0


def test_blur_extent_hand_field():
    # M = 2 segments: (3, 4) then (0, -5) at the centre grid point -> 5 + 5 = 10 px
    cmf = torch.zeros(4, 6, 8)
    cmf[:, 3, 4] = torch.tensor([3.0, 4.0, 0.0, -5.0])
    assert field_path_length_px(cmf, height=12, width=16) == pytest.approx(10.0)
    cmf[:, 2, 4] = 100.0  # another grid point does not count
    assert field_path_length_px(cmf, height=12, width=16) == pytest.approx(10.0)


def test_official_nafnet_file(smoke_data, tmp_path):
    """An official-layout NAFNet file ({"params": state_dict}) evaluates through --official."""
    from gyrobench.models import build

    torch.manual_seed(1)
    opts = {"width": 8, "enc_blk_nums": [1, 1, 1, 1]}
    net = build("nafnet", **opts)
    f = tmp_path / "NAFNet-tiny.pth"
    torch.save({"params": net.state_dict()}, f)
    rc = cli_main(["eval", "--official", "nafnet", "--checkpoint", str(f), "--options", json.dumps(opts),
                   "--data", str(smoke_data), "--out", str(tmp_path / "ev"), "--metrics", "psnr"])
    assert rc == 0
    rec = read_record(tmp_path / "ev" / "results.json")
    assert rec["model_source"] == "official" and rec["model"] == "nafnet"
    assert rec["checkpoint_sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()


def _gdn_checkpoint(path, **cfg):
    from gyrobench.models import build
    from gyrobench.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    net = build("gyrodeblurnet", M=4)
    return save_checkpoint(path, model="gyrodeblurnet", options=dict(net.options), state_dict=net.state_dict(),
                           step=1, config={"name": "m4", **cfg})


@pytest.mark.parametrize("stored", [False, True])
def test_m4_checkpoint_gets_m4_fields(smoke_data, tmp_path, stored):
    """An M=4 GyroDeblurNet needs 8-channel fields, also where the shards store M=8 fields (16 channels)."""
    from test_train_support import write_tiny_dataset

    data = write_tiny_dataset(tmp_path / "tiny", n_train=1, n_test=1) if stored else smoke_data
    ckpt = _gdn_checkpoint(tmp_path / "m4.pt")
    rec = read_record(evaluate(EvalConfig(checkpoint=str(ckpt), data=str(data), out=str(tmp_path / "ev"),
                                          metrics=("psnr",), crops=0, limit=1)))
    assert rec["options"]["M"] == 4 and math.isfinite(rec["metrics"]["psnr"]["mean"])
    from gyrobench.models.dcn import torchvision_available

    assert rec["dcn_backend"] == ("torchvision" if torchvision_available() else "torch")


def test_dcn_backend_actually_used():
    from gyrobench.models import build
    from gyrobench.models.dcn import dcn_backends

    net = build("gyrodeblurnet", M=4, dcn_backend="torch")
    assert dcn_backends(net) is None  # not run yet
    batch = {"blurred": torch.rand(1, 3, 16, 16), "cmf_noisy": torch.zeros(1, 8, 8, 8),
             "cmf_clean": torch.zeros(1, 8, 8, 8), "alpha": 1.0}
    with torch.no_grad():
        net(batch)
    assert dcn_backends(net) == "torch"
    assert dcn_backends(build("nafnet", width=8, enc_blk_nums=[1, 1, 1, 1])) is None


_SEEN_FIELDS: list = []


def _register_probe():
    from gyrobench.models.registry import register

    @register("cmf_probe_test", uses_gyro=True, citation="test only")
    class Probe(torch.nn.Module):
        """Returns its input; records the motion field it was given."""

        def __init__(self):
            super().__init__()
            self.options = {}

        def forward(self, batch):
            _SEEN_FIELDS.append(batch["cmf_noisy"][0].clone())
            return batch["blurred"]


@pytest.mark.parametrize("data_cfg", [{"motion_field": {"interpolation": "cubic"}},
                                      {"cmf_options": {"interp": "cubic"}}])  # checkpoints from before FieldSpec
def test_checkpoint_field_spec_reaches_the_fields(tmp_path, data_cfg):
    """A model trained on cubic fields (data.motion_field) is evaluated on cubic fields, not stored linear ones."""
    import h5py
    from test_train_support import write_tiny_dataset

    from gyrobench.gyro.cmf import camera_motion_field
    from gyrobench.train.checkpoint import save_checkpoint

    _register_probe()
    data = write_tiny_dataset(tmp_path / "tiny", n_train=1, n_test=1)  # stores linear M=8 fields
    ckpt = save_checkpoint(tmp_path / "p.pt", model="cmf_probe_test", options={}, state_dict={}, step=1,
                           config={"data": data_cfg})
    _SEEN_FIELDS.clear()
    evaluate(EvalConfig(checkpoint=str(ckpt), data=str(data), out=str(tmp_path / "ev"), metrics=("psnr",), crops=0))
    with h5py.File(data / "shard-00001.h5", "r") as f:  # the test split's shard, straight from HDF5
        t, w, K = f["gyro_t_ns"][0], f["gyro_w"][0], f["K"][0]
    kw = dict(crop=(4, 6, 64, 48), M=8, layout="chw")
    cubic = camera_motion_field(t, w, K, interp="cubic", **kw)
    assert not np.allclose(cubic, camera_motion_field(t, w, K, interp="linear", **kw), atol=1e-4)
    assert len(_SEEN_FIELDS) == 1
    np.testing.assert_allclose(_SEEN_FIELDS[0].numpy(), cubic, atol=1e-5)
