"""``gyrobench eval --config``: keys mirror the flags, flags given on the command line win, unknown keys fail."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gyrobench.cli import main
from gyrobench.commands import eval as eval_cmd

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
def test_shipped_eval_configs_use_valid_keys(path):
    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    args = parser.parse_args(["--config", str(path)])
    eval_cmd._apply_config(args, eval_cmd._DEFAULTS)  # raises RecipeError on an unknown key
    assert args.data is not None
