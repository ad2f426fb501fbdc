"""Device resolution: an unusable --device is one error line (no torch traceback) in eval, train and synth."""

from __future__ import annotations

import pytest
import torch
import yaml
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.cli import main as cli_main
from gyrobench.device import resolve_device
from gyrobench.errors import GyrobenchError


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def test_resolve_device(no_cuda):
    assert resolve_device("auto") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(GyrobenchError, match=r"--device=cuda:1: .*use --device=cpu"):
        resolve_device("cuda:1")
    with pytest.raises(GyrobenchError, match="not a torch device"):
        resolve_device("gpu0")


def _one_line_error(capsys, argv, needle):
    capsys.readouterr()
    assert cli_main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.startswith("gyrobench: error:") and needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_cuda_on_cpu_only_torch_through_the_cli(no_cuda, tmp_path, capsys):
    data = write_tiny_dataset(tmp_path / "d", n_train=2, n_test=1)
    _one_line_error(capsys, ["eval", "--model", "identity", "--data", str(data), "--out", str(tmp_path / "e"),
                             "--device", "cuda"], "use --device=cpu")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(data)))
    _one_line_error(capsys, ["train", str(cfg), "--out", str(tmp_path / "t"), "--device", "cuda"], "device=cuda")
    _one_line_error(capsys, ["synth", "smoke", "--out", str(tmp_path / "s"), "--limit", "1", "--device", "cuda"],
                    "use --device=cpu")
    assert not (tmp_path / "s" / "manifest.json").exists()
