"""``gyrobench eval --config``: keys mirror the flags, flags given on the command line win, unknown keys fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gyrobench.cli import main
from gyrobench.errors import RecipeError
from gyrobench.evaluate import EvalConfig, load_eval_config

ROOT = Path(__file__).resolve().parents[1]


def test_config_drives_eval_and_flags_override(smoke_data, tmp_path):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(f"model: identity\ndata: {smoke_data}\nsplit: test\nlabel: from-config\n"
                   f"metrics: [psnr]\nout: {tmp_path / 'a'}\n")
    assert main(["eval", "--config", str(cfg)]) == 0
    rec = json.loads((tmp_path / "a" / "results.json").read_text())
    assert rec["label"] == "from-config" and set(rec["metrics"]) == {"psnr"}
    # a flag given on the command line overrides the file
    assert main(["eval", "--config", str(cfg), "--label", "from-flag", "--out", str(tmp_path / "b")]) == 0
    rec = json.loads((tmp_path / "b" / "results.json").read_text())
    assert rec["label"] == "from-flag"


def test_unknown_config_key_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text("model: identity\ndatta: x\n")
    assert main(["eval", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "datta" in err and "eval.yaml" in err


@pytest.mark.parametrize("path", sorted((ROOT / "baselines").glob("*/eval*.yaml")), ids=lambda p: p.parent.name + "/" + p.name)
def test_shipped_eval_configs_validate_into_eval_config(path):
    cfg = load_eval_config(path)
    assert isinstance(cfg, EvalConfig) and cfg.data and (cfg.checkpoint or cfg.model)


@pytest.mark.parametrize("path", sorted((ROOT / "baselines").glob("*/eval.yaml")), ids=lambda p: p.parent.name)
def test_baseline_eval_yaml_with_unknown_key_fails_like_a_train_config(path, tmp_path, capsys):
    """The same one-line error the train configs give: file, dotted key, nearest valid key, valid keys."""
    bad = tmp_path / "eval.yaml"
    bad.write_text(path.read_text() + "gyro_feild: clean\n")
    assert main(["eval", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"gyrobench: error: {bad}: unknown key 'gyro_feild' (did you mean 'gyro_field'?); "
                          "valid keys here: ")
    train = tmp_path / "train.yaml"
    train.write_text((ROOT / "baselines" / "nafnet" / "train.yaml").read_text() + "sed: 1\n")
    assert main(["train", str(train), "--out", str(tmp_path / "run")]) == 2
    train_err = capsys.readouterr().err
    assert train_err.count("\n") == 1
    assert train_err.startswith(f"gyrobench: error: {train}: unknown key 'sed' (did you mean 'seed'?); valid keys here: ")


def test_eval_config_values_are_validated(tmp_path):
    with pytest.raises(RecipeError, match="c.yaml: unknown key 'datta'"):
        load_eval_config(_write(tmp_path, "model: identity\ndatta: x\n"))
    with pytest.raises(RecipeError, match="c.yaml: EvalConfig: give exactly one data source: 'data: DIR'"):
        load_eval_config(_write(tmp_path, "model: identity\n"))
    with pytest.raises(RecipeError, match="gyro_field: 'oracle' is not one of 'noisy', 'clean'"):
        load_eval_config(_write(tmp_path, "model: identity\ndata: d\ngyro_field: oracle\n"))
    with pytest.raises(RecipeError, match="limit=0"):
        load_eval_config(_write(tmp_path, "model: identity\ndata: d\nlimit: 0\n"))
    with pytest.raises(RecipeError, match="--checkpoint"):
        load_eval_config(_write(tmp_path, "data: d\n"))
    cfg = load_eval_config(_write(tmp_path, "model: identity\ndata: d\nmetrics: [psnr]\n"), {"label": "x"})
    assert cfg.metrics == ("psnr",) and cfg.label == "x" and cfg.out_dir().as_posix() == "runs/eval/x"


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p
