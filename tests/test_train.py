"""Trainer: loss, curriculum, loss decrease, bit-identical resume, config validation through the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.cli import main as cli_main
from gyrobench.errors import RecipeError
from gyrobench.train.curriculum import curriculum_alpha
from gyrobench.train.loss import psnr_loss
from gyrobench.train.trainer import train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"), n_train=8, n_test=2)


def test_curriculum_matches_official_epoch_schedule():
    # official: alpha = 0.1 * floor(e / 10) for e < 100, then 1 (spec §4), 300 epochs
    for e in range(300):
        expected = 0.1 * (e // 10) if e < 100 else 1.0
        assert curriculum_alpha(e, 300) == pytest.approx(expected, abs=1e-12)
    # integer arithmetic at boundaries where float floor(30 * e / E) is fragile: 30*e/E exactly integer
    assert curriculum_alpha(7, 21) == 1.0 and curriculum_alpha(1, 30) == 0.1 and curriculum_alpha(0, 1) == 0.0
    assert [curriculum_alpha(s, 60) for s in (0, 1, 2, 3, 19, 20, 59)] == [0, 0, 0.1, 0.1, 0.9, 1.0, 1.0]


def test_psnr_loss_against_closed_form():
    torch.manual_seed(0)
    a, b = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    mse = [float(((a[i].double() - b[i].double()) ** 2).mean()) for i in range(3)]
    expected = np.mean([10 * math.log10(m + 1e-8) for m in mse])  # -PSNR(data range 1), per-image mean
    assert float(psnr_loss(a, b)) == pytest.approx(expected, rel=1e-5)
    x = torch.full((1, 3, 4, 4), 0.5)
    assert float(psnr_loss(x, x + 0.1)) == pytest.approx(-20.0, abs=1e-4)  # MSE 1e-2 -> -20 dB


def test_tiny_run_decreases_loss_and_writes_run_folder(tiny, tmp_path):
    out = tmp_path / "run"
    summary = train(tiny_config(tiny, schedule={"steps": 24}), out)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 24
    first, last = np.mean([r["loss"] for r in lines[:4]]), np.mean([r["loss"] for r in lines[-4:]])
    assert last < first
    assert lines[-1]["lr"] == pytest.approx(1e-5, rel=1e-6)  # cosine reaches lr_min at the last step
    from fractions import Fraction

    expected = [min(1.0, math.floor(Fraction(30 * s, 24)) / 10) for s in range(24)]  # alpha of 0-based step s
    assert [r["alpha"] for r in lines] == pytest.approx(expected, abs=1e-12)
    run = json.loads((out / "run.json").read_text())
    assert run["git_commit"] and run["total_steps"] == 24
    assert (out / "config.yaml").is_file() and summary["steps"] == 24
    from gyrobench.train.checkpoint import load_checkpoint, model_from_checkpoint

    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ck["format"] == "gyrobench-checkpoint/1" and ck["step"] == 24 and ck["model"] == "tiny_gyro_test"
    for key in ("optimizer", "scheduler", "rng", "config", "git_commit", "versions", "options"):
        assert key in ck
    model, _ = model_from_checkpoint(out / "checkpoints" / "last.pt")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ck["state_dict"][k], rtol=0, atol=0)


@pytest.mark.parametrize("degradation", [None, "gyrodeblurnet_official"])
def test_resume_is_bit_identical(tiny, tmp_path, degradation):
    """8 steps straight == 4 steps + resume from the step-4 checkpoint + 4 steps, exactly (CPU)."""
    cfg = tiny_config(tiny, schedule={"steps": 8}, logging={"checkpoint_every": 4, "keep_checkpoints": True},
                      degradation=degradation)
    straight = tmp_path / "straight"
    train(cfg, straight)
    mid = straight / "checkpoints" / "step-0000004.pt"
    assert mid.is_file()
    torch.manual_seed(12345)  # disturb the global RNG: resume must restore it
    resumed = tmp_path / "resumed"
    train(cfg, resumed, resume=mid)
    a = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(resumed / "checkpoints" / "last.pt", weights_only=True)
    m = torch.load(mid, weights_only=True)
    assert b["step"] == a["step"] == 8 and m["step"] == 4
    assert any(not torch.equal(a["state_dict"][k], m["state_dict"][k]) for k in a["state_dict"])
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    la = [json.loads(x)["loss"] for x in (straight / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["loss"] for x in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert la[4:] == lb


def test_epochs_schedule_and_batch_larger_than_data(tiny, tmp_path):
    cfg = tiny_config(tiny, schedule={"steps": None, "epochs": 2, "batch_size": 4})
    assert train(cfg, tmp_path / "e")["steps"] == 4  # 8 samples / batch 4 = 2 steps per epoch
    with pytest.raises(RecipeError, match="fewer than one batch"):
        train(tiny_config(tiny, schedule={"batch_size": 16}), tmp_path / "f")


def test_cli_rejects_bad_config_with_one_line(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"model: {{name: nafnet}}\ndata: {{root: {tiny}}}\nschedule: {{stepz: 3}}\n")
    assert cli_main(["train", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "stepz" in err and "did you mean 'steps'" in err
    bad.write_text(f"model: {{name: nafnet}}\ndata: {{root: {tiny}, crop: 30}}\nschedule: {{steps: 3}}\n")
    assert cli_main(["train", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "multiple of 8" in capsys.readouterr().err


def test_cli_train_runs(tiny, tmp_path):
    import yaml

    cfg = tiny_config(tiny, schedule={"steps": 2})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["train", str(path), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "config.yaml").read_text() == path.read_text()
    assert cli_main(["train", str(path), "--out", str(tmp_path / "o"), "--resume", "--steps", "4"]) == 0
    assert json.loads((tmp_path / "o" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 4


def test_bf16_autocast_runs(tiny, tmp_path):
    s = train(tiny_config(tiny, schedule={"steps": 2}, amp=True), tmp_path / "amp")
    assert math.isfinite(s["last_loss"])


def test_tensorboard_scalars_and_images(tiny, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    train(tiny_config(tiny, schedule={"steps": 2}, logging={"tensorboard": True, "image_every": 2}), out)
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    assert {"train/loss", "train/psnr", "train/lr", "train/alpha"} <= set(acc.Tags()["scalars"])
    assert "train/blurred_restored_sharp" in acc.Tags()["images"]
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2]


def test_degradation_is_applied_per_batch(tiny, tmp_path):
    from gyrobench.config import from_dict
    from gyrobench.train import ddp
    from gyrobench.train.config import TrainConfig
    from gyrobench.train.trainer import Trainer

    cfg = from_dict(TrainConfig, tiny_config(tiny, degradation="gyrodeblurnet_official"))
    t = Trainer(cfg, tmp_path / "d", dist_info=ddp.DistInfo())
    batch = next(iter(t._loader(0, 0)))
    clean = batch["blurred"].clone()
    t.train_step(batch)
    noisy = t._last[0]["blurred"]
    assert noisy.shape == clean.shape and not torch.equal(noisy, clean)
    assert float((noisy - clean).abs().mean()) < 0.05  # noise, not a different image


def test_untrainable_model_and_missing_data_are_reported(tiny, tmp_path, capsys):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tiny, model={"name": "classical", "options": {}})))
    assert cli_main(["train", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "no trainable parameters" in capsys.readouterr().err
    assert cli_main(["train", str(path), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "manifest" in err and "nowhere" in err


@pytest.mark.parametrize("preset", ["rsblur_pt", "rsblur_tf_realblur"])
def test_srgb_presets_train_in_linear_light(tiny, tmp_path, preset):
    """RSBlur presets end in sRGB / the A7R3 CRF; the trainer must keep the input linear like its target."""
    from gyrobench.config import from_dict
    from gyrobench.train import ddp
    from gyrobench.train.config import TrainConfig
    from gyrobench.train.trainer import Trainer

    cfg = from_dict(TrainConfig, tiny_config(tiny, degradation=preset))
    t = Trainer(cfg, tmp_path / "d", dist_info=ddp.DistInfo())
    assert t.degrade.output_transfer == "linear"
    batch = next(iter(t._loader(0, 0)))
    clean = batch["blurred"].clone()  # linear, values 0.1..0.9 (sRGB encoding would add ~0.2 on average)
    t.train_step(batch)
    noisy = t._last[0]["blurred"]
    assert abs(float((noisy - clean).mean())) < 0.03
    assert float((noisy - clean).abs().mean()) < 0.06


def test_unknown_degradation_preset_names_the_key(tiny, tmp_path):
    from gyrobench.config import from_dict
    from gyrobench.train import ddp
    from gyrobench.train.config import TrainConfig
    from gyrobench.train.trainer import Trainer

    cfg = from_dict(TrainConfig, tiny_config(tiny, degradation="rsblur_nope"))
    with pytest.raises(RecipeError, match="degradation='rsblur_nope'.*rsblur_pt"):
        Trainer(cfg, tmp_path / "d", dist_info=ddp.DistInfo())


def _with_splits(root, splits):
    man = json.loads((root / "manifest.json").read_text())
    man["splits"] = splits
    (root / "manifest.json").write_text(json.dumps(man))
    return root


def test_offline_split_is_not_degraded_twice(tmp_path, monkeypatch):
    from gyrobench.config import from_dict
    from gyrobench.train import ddp, trainer
    from gyrobench.train.config import TrainConfig

    root = _with_splits(write_tiny_dataset(tmp_path / "data", n_train=4, n_test=2), {
        "train": {"samples": 4, "shards": 1, "degradation": "offline", "preset": "gyrodeblurnet_official"},
        "test": {"samples": 2, "shards": 1, "degradation": "on_the_fly", "preset": "gyrodeblurnet_official"}})
    cfg = from_dict(TrainConfig, tiny_config(root, degradation="gyrodeblurnet_official"))
    with pytest.raises(RecipeError, match=r"degradation=.*already degraded.*degradation: null"):
        trainer.Trainer(cfg, tmp_path / "o", dist_info=ddp.DistInfo())
    cfg = from_dict(TrainConfig, tiny_config(root, degradation=None))
    assert trainer.Trainer(cfg, tmp_path / "o", dist_info=ddp.DistInfo()).degrade is None
    warnings = []
    monkeypatch.setattr(trainer.log, "warning", lambda *a: warnings.append(a[0] % a[1:]))
    cfg = from_dict(TrainConfig, tiny_config(root, degradation="gyrodeblurnet", data={"split": "test"}))
    trainer.Trainer(cfg, tmp_path / "o", dist_info=ddp.DistInfo())
    assert len(warnings) == 1 and "'gyrodeblurnet_official' recorded for split 'test'" in warnings[0]


def test_default_degradation_is_the_official_preset(tiny):
    from gyrobench.train.config import TrainConfig

    cfg = TrainConfig(model={"name": "x"}, data={"root": str(tiny)})
    assert cfg.degradation == "gyrodeblurnet_official"  # spec gyrodeblurnet.md §6.1, docs/training.md


def test_checkpoint_and_run_json_record_the_training_data(tiny, tmp_path):
    import hashlib

    from gyrobench.train.checkpoint import load_checkpoint

    out = tmp_path / "run"
    train(tiny_config(tiny, schedule={"steps": 2}), out)
    man_bytes = (tiny / "manifest.json").read_bytes()
    want = {"dataset_manifest_sha256": hashlib.sha256(man_bytes).hexdigest(),
            "recipe_sha256": json.loads(man_bytes)["recipe_sha256"], "split": "train"}
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    run = json.loads((out / "run.json").read_text())
    for rec in (ckpt["data"], run["data"]):
        assert {k: rec[k] for k in want} == want
    assert ckpt["train"]["dcn_backend"] is None  # tiny_gyro_test has no deformable conv


def test_versions_name_every_library_the_results_depend_on():
    import importlib.metadata

    import skimage
    import yaml

    from gyrobench.provenance import versions

    v = versions()
    assert v["scikit-image"] == skimage.__version__ and v["PyYAML"] == yaml.__version__
    try:
        tv = importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        tv = "absent"
    assert v["torchvision"] == tv


def test_non_finite_loss_is_a_training_error_not_a_config_error(tiny, tmp_path, monkeypatch):
    """A NaN loss is not a bad recipe or config (issue 12 item 5): TrainingError, one line, exit 2."""
    from gyrobench.errors import TrainingError
    from gyrobench.train.trainer import Trainer

    monkeypatch.setattr(Trainer, "train_step", lambda self, batch, health=False: (math.nan, math.nan))
    with pytest.raises(TrainingError, match="step 0: loss is nan; lower schedule.lr") as info:
        train(tiny_config(tiny, schedule={"steps": 2}), tmp_path / "run")
    assert not isinstance(info.value, RecipeError)


def test_gyro_shuffle_swaps_fields_only_and_deterministically():
    """``gyro_shuffle`` (docs/training.md): chosen samples get another sample's fields (never their own), images
    stay; the same seed gives the same swap; fraction 1 deranges the whole batch."""
    import torch

    from gyrobench.train.trainer import shuffle_fields

    n = 6
    cmf = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).expand(n, 4, 2, 2).clone()
    batch = {"blurred": torch.rand(n, 3, 4, 4), "sharp": torch.rand(n, 3, 4, 4), "cmf_noisy": cmf,
             "cmf_clean": cmf + 100}
    full = shuffle_fields(batch, 1.0, seed=3)
    got = full["cmf_noisy"][:, 0, 0, 0].long()
    assert sorted(got.tolist()) == list(range(n)) and all(got[i] != i for i in range(n))
    assert torch.equal(full["cmf_clean"][:, 0, 0, 0].long() - 100, got)  # clean and noisy move together
    assert full["blurred"] is batch["blurred"] and full["sharp"] is batch["sharp"]
    for seed in range(20):
        a, b = shuffle_fields(batch, 0.3, seed), shuffle_fields(batch, 0.3, seed)
        assert torch.equal(a["cmf_noisy"], b["cmf_noisy"])
        moved = a["cmf_noisy"][:, 0, 0, 0].long() != torch.arange(n)
        assert all(a["cmf_noisy"][i, 0, 0, 0] != i for i in torch.nonzero(moved).flatten())
    assert torch.equal(shuffle_fields(batch, 0.0, 1)["cmf_noisy"], cmf)


def test_gyro_shuffle_is_validated(tmp_path):
    from gyrobench.config import from_dict
    from gyrobench.errors import GyrobenchError
    from gyrobench.train.config import TrainConfig

    with pytest.raises((GyrobenchError, ValueError), match="gyro_shuffle"):
        from_dict(TrainConfig, {"model": {"name": "nafnet"}, "data": {"root": str(tmp_path)}, "gyro_shuffle": 1.5})


def test_grad_clip_bounds_the_gradient_norm_before_adam(tiny, tmp_path):
    """``schedule.grad_clip``: gradients are scaled to at most that global norm before the Adam step. Adam's first
    step moves each weight by ``lr * g / (|g| + eps)`` (eps 1e-8), i.e. by about ``lr`` for an unclipped gradient;
    a gradient clipped to a norm of 1e-12 is far below eps, so the same step moves no weight by more than
    ``lr * 1e-4``. The starting weights come from a run at lr 1e-15 (same seed, same initialisation)."""
    lr = 1e-3

    def one_step(name, **schedule):
        out = tmp_path / name
        train(tiny_config(tiny, schedule={"steps": 1, "lr": schedule.pop("lr", lr), "lr_min": 0.0, **schedule}), out)
        return torch.load(out / "checkpoints" / "last.pt", weights_only=True)["state_dict"]

    start, free, clipped = one_step("start", lr=1e-15), one_step("free"), one_step("clipped", grad_clip=1e-12)
    moved_free = max(float((free[k].double() - start[k].double()).abs().max()) for k in start)
    moved_clipped = max(float((clipped[k].double() - start[k].double()).abs().max()) for k in start)
    assert moved_free > 0.5 * lr
    assert moved_clipped < 1e-4 * lr


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_grad_clip_is_validated(tmp_path, value):
    from gyrobench.config import from_dict
    from gyrobench.train.config import TrainConfig

    with pytest.raises((RecipeError, ValueError), match="grad_clip"):
        from_dict(TrainConfig, {"model": {"name": "nafnet"}, "data": {"root": str(tmp_path)},
                                "schedule": {"steps": 1, "grad_clip": value}})


def test_betas_and_weight_decay_against_adam_closed_forms(tiny, tmp_path):
    """``schedule.betas`` / ``schedule.weight_decay`` (AdamW). With betas (0, 0) each Adam step moves a weight by
    ``lr * g / (|g| + eps)``: by about ``lr`` where its gradient is nonzero and not at all where it is zero, so after
    two steps at a constant lr every move is about 0, 1 or 2 lr. The default betas carry the first gradient into the
    second step with another weight (e.g. 0.67 lr for a zero second gradient), so many moves fall between.
    Decoupled weight decay scales every weight by ``1 - lr * wd`` before the Adam step: at lr 1e-6 and wd 5e5 one
    step halves each weight, up to the Adam step of about lr."""
    lr = 1e-4

    def run(name, steps, **schedule):
        out = tmp_path / name
        sched = {"steps": steps, "lr": schedule.pop("lr", lr), **schedule}
        sched.setdefault("lr_min", sched["lr"])  # a constant learning rate
        train(tiny_config(tiny, schedule=sched, curriculum=False), out)
        return torch.load(out / "checkpoints" / "last.pt", weights_only=True)["state_dict"]

    def off_grid(a, b):  # distance of each weight's move (in units of lr) from the nearest whole number
        moves = torch.cat([(b[k].double() - a[k].double()).flatten() / lr for k in a if a[k].is_floating_point()])
        return (moves - moves.round()).abs()

    start = run("start", 1, lr=1e-15)
    assert float((off_grid(start, run("sign", 2, betas=[0.0, 0.0])) > 0.05).float().mean()) < 0.01
    assert float((off_grid(start, run("default", 2)) > 0.1).float().mean()) > 0.1

    decayed = run("decay", 1, lr=1e-6, weight_decay=5e5)
    for k in start:
        if start[k].is_floating_point():
            assert torch.allclose(decayed[k].double(), 0.5 * start[k].double(), rtol=0, atol=1.01e-6), k


@pytest.mark.parametrize("schedule, key", [({"betas": [0.9]}, "betas"), ({"betas": [0.9, 1.0]}, "betas"),
                                           ({"weight_decay": -1.0}, "weight_decay")])
def test_betas_and_weight_decay_are_validated(tmp_path, schedule, key):
    from gyrobench.config import from_dict
    from gyrobench.train.config import TrainConfig

    with pytest.raises((RecipeError, ValueError), match=key):
        from_dict(TrainConfig, {"model": {"name": "nafnet"}, "data": {"root": str(tmp_path)},
                                "schedule": {"steps": 1, **schedule}})
