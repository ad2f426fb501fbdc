"""DeepGyro and EggNet through the project's trainer and evaluator on a synthesized smoke dataset: config ->
a few optimizer steps -> checkpoint (weights_only) -> reloaded model -> `gyrobench eval` results record."""

from __future__ import annotations

import json

import pytest
import yaml

from gyrobench.cli import main as cli_main


@pytest.mark.parametrize(
    "name,options",
    [("eggnet", {"width": 4, "enc_blocks": 1, "dec_blocks": 1, "mid_blocks": 1}), ("deepgyro", {"width": 4})],
)
def test_train_checkpoint_eval(smoke_data, tmp_path, name, options):
    from gyrobench.train.checkpoint import model_from_checkpoint

    cfg = {
        "name": f"{name}-tiny",
        "model": {"name": name, "options": options},
        "data": {"root": str(smoke_data), "split": "train", "crop": 32, "workers": 0},
        "schedule": {"batch_size": 2, "steps": 2},
        "degradation": "gyrodeblurnet",
        "logging": {"tensorboard": False},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert cli_main(["train", str(path), "--out", str(run)]) == 0
    ckpt = run / "checkpoints" / "last.pt"
    model, _ = model_from_checkpoint(ckpt)
    assert model.name == name and model.uses_gyro and model.options == options
    out = tmp_path / "ev"
    assert (
        cli_main(
            [
                "eval",
                "--checkpoint",
                str(ckpt),
                "--data",
                str(smoke_data),
                "--out",
                str(out),
                "--metrics",
                "psnr",
                "--crops",
                "0",
            ]
        )
        == 0
    )
    rec = json.loads((out / "results.json").read_text())
    assert rec["model"] == name and rec["metrics"]["psnr"]["n"] >= 1
