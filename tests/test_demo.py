"""The end-to-end demo (shrunken with --quick) and the shipped configs."""

from __future__ import annotations

import json

import pytest
import yaml

from gyrobench.cli import main as cli_main
from gyrobench.config import from_dict
from gyrobench.demo import DEMO_MODELS, demo_config
from gyrobench.train.config import TrainConfig, load_train_config


def test_shipped_demo_configs_match_the_demo(repo_root):
    for name in DEMO_MODELS:
        path = repo_root / "configs" / f"demo_{name}.yaml"
        assert yaml.safe_load(path.read_text()) == demo_config(name, "out/demo/data"), path
        load_train_config(path)


@pytest.mark.parametrize("name", ["gyrodeblurnet.yaml", "nafnet32.yaml"])
def test_protocol_configs_validate(repo_root, name):
    cfg = load_train_config(repo_root / "configs" / name)
    assert cfg.schedule.lr == 1e-4 and cfg.schedule.lr_min == 1e-7 and cfg.schedule.batch_size == 16
    assert cfg.schedule.epochs == 300 and cfg.data.crop == 256 and cfg.seed == 1234


def test_demo_configs_build(tmp_path):
    for name in DEMO_MODELS:
        from_dict(TrainConfig, demo_config(name, tmp_path))


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path):
    out, board = tmp_path / "demo", tmp_path / "board"
    assert cli_main(["demo", "--quick", "--out", str(out), "--publish", str(board)]) == 0
    summary = json.loads((out / "demo.json").read_text())
    assert set(summary["results"]) == set(DEMO_MODELS) | {"classical", "blurred"}
    for name in DEMO_MODELS:
        assert summary["train"][name]["steps"] == 2
        assert (out / "runs" / name / "checkpoints" / "last.pt").is_file()
    for path in summary["results"].values():
        rec = json.loads(open(path).read())
        assert rec["format"] == "gyrobench-results/1" and "psnr" in rec["metrics"]
    assert (board / "table.md").is_file() and (board / "table.csv").is_file()
    table = (board / "table.md").read_text()
    assert "blurred input" in table and "GyroDeblurNet" in table
    # the published board stands on its own: every record link resolves inside the board folder
    import re

    links = re.findall(r"\[results\.json\]\(([^)]+)\)", table)
    assert len(links) == len(summary["results"])
    for link in links:
        target = (board / link).resolve()
        assert target.is_file() and board.resolve() in target.parents, link


def test_demo_rejects_unknown_model(tmp_path, capsys):
    assert cli_main(["demo", "--quick", "--out", str(tmp_path), "--models", "nope"]) == 2
    assert "unknown model" in capsys.readouterr().err
