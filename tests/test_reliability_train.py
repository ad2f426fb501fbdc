"""Issue 13: a run folder belongs to one run, resume checks what it resumes, kills leave old or new state."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.cli import main as cli_main
from gyrobench.errors import CheckpointError, RecipeError
from gyrobench.train.checkpoint import load_checkpoint
from gyrobench.train.trainer import train

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"), n_train=8, n_test=2)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _steps(run: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]


def _write_cfg(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_into_a_finished_run_without_resume_refuses(tiny, tmp_path, capsys):
    cfg = _write_cfg(tmp_path / "c.yaml", tiny_config(tiny, schedule={"steps": 4}))
    out = tmp_path / "run"
    assert cli_main(["train", str(cfg), "--out", str(out)]) == 0
    before = _sha(out / "checkpoints" / "last.pt")
    capsys.readouterr()
    assert cli_main(["train", str(cfg), "--out", str(out), "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds a finished run" in err[0]
    assert "--resume" in err[0] and "--overwrite" in err[0] and "new --out" in err[0]
    assert _sha(out / "checkpoints" / "last.pt") == before  # untouched
    # --overwrite replaces it: a fresh 2-step run, metrics of the new run only
    assert cli_main(["train", str(cfg), "--out", str(out), "--steps", "2", "--overwrite"]) == 0
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 2 and _steps(out) == [1, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".gyrobench-tmp")]


def test_resume_refuses_a_changed_trajectory_and_lists_the_differences(tiny, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(tiny, schedule={"steps": 4}), out)
    bad = tiny_config(tiny, schedule={"steps": 8, "lr": 5e-3}, seed=99)
    with pytest.raises(CheckpointError, match=r"last\.pt: --resume with a config that differs") as err:
        train(bad, out, resume=True)
    assert "schedule.lr: 0.001 -> 0.005" in str(err.value) and "seed: 7 -> 99" in str(err.value)
    for over in ({"degradation": "gyrodeblurnet_official"}, {"data": {"crop": 16}}, {"curriculum": False},
                 {"model": {"name": "tiny_gyro_test", "options": {"width": 5}}}, {"amp": True}):
        with pytest.raises(CheckpointError, match="differ"):
            train(tiny_config(tiny, schedule={"steps": 8}, **over), out, resume=True)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 4
    # what may change: length, logging, loaders, name, device
    ok = tiny_config(tiny, schedule={"steps": 6}, name="renamed", device="cpu",
                     logging={"log_every": 2, "checkpoint_every": 100}, data={"workers": 0, "verify": False})
    assert train(ok, out, resume=True)["steps"] == 6


def test_resume_refuses_another_dataset_but_not_a_moved_one(tiny, tmp_path):
    import shutil

    out = tmp_path / "run"
    train(tiny_config(tiny, schedule={"steps": 2}), out)
    other = write_tiny_dataset(tmp_path / "other", n_train=8, n_test=2, seed=5)
    with pytest.raises(CheckpointError, match="dataset manifest sha256"):
        train(tiny_config(other, schedule={"steps": 4}), out, resume=True)
    moved = shutil.copytree(tiny, tmp_path / "moved")
    assert train(tiny_config(moved, schedule={"steps": 4}), out, resume=True)["steps"] == 4


def test_resume_below_the_current_step_is_an_error_and_equal_is_a_no_op(tiny, tmp_path, capsys):
    cfg = _write_cfg(tmp_path / "c.yaml", tiny_config(tiny, schedule={"steps": 2}))
    out = tmp_path / "run"
    assert cli_main(["train", str(cfg), "--out", str(out)]) == 0
    before = _sha(out / "checkpoints" / "last.pt")
    assert cli_main(["train", str(cfg), "--out", str(out), "--resume", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "at step 2, beyond the run length of 1 steps" in err and "--steps 2 or more" in err
    assert cli_main(["train", str(cfg), "--out", str(out), "--resume"]) == 0  # already done: nothing rewritten
    assert _sha(out / "checkpoints" / "last.pt") == before and _steps(out) == [1, 2]


@pytest.mark.parametrize("value", ["0", "-3"])
def test_zero_or_negative_steps_are_refused(tiny, tmp_path, capsys, value):
    cfg = _write_cfg(tmp_path / "c.yaml", tiny_config(tiny))
    assert cli_main(["train", str(cfg), "--out", str(tmp_path / "o"), "--steps", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"argument --steps: '{value}'" in err[0]  # refused when the command line is parsed
    assert not (tmp_path / "o").exists()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tiny, schedule={"steps": int(value)})))
    assert cli_main(["train", str(cfg), "--out", str(tmp_path / "o")]) == 2  # and in the config file
    err = capsys.readouterr().err
    assert f"steps={value}: must be at least 1" in err and "c.yaml" in err
    with pytest.raises(RecipeError, match="steps=0"):
        train(tiny_config(tiny, schedule={"steps": 0}), tmp_path / "o")


def test_resume_from_a_corrupted_checkpoint_is_one_line(tiny, tmp_path, capsys):
    from test_checkpoint import _flip_tensor_bytes

    cfg = _write_cfg(tmp_path / "c.yaml", tiny_config(tiny, schedule={"steps": 2}))
    out = tmp_path / "run"
    assert cli_main(["train", str(cfg), "--out", str(out)]) == 0
    capsys.readouterr()
    _flip_tensor_bytes(out / "checkpoints" / "last.pt", n=16)
    assert cli_main(["train", str(cfg), "--out", str(out), "--resume", "--steps", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last.pt: contents do not match the checkpoint's integrity digest" in err[0]


_KILLER = r"""
import hashlib, os, signal, sys
sys.path.insert(0, {tests!r})
import test_train_support  # registers the tiny model
import torch
torch.set_num_threads({threads})  # the parent's count (tests/conftest.py): same float reductions, same weights
from gyrobench.train import trainer
from gyrobench.train.trainer import Trainer, train
mode, kill_at = {mode!r}, {kill_at}
if mode == "step":       # killed between optimizer steps, after logging steps past the last checkpoint
    orig = Trainer.train_step
    def train_step(self, batch, **kw):
        if self.step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return orig(self, batch, **kw)
    Trainer.train_step = train_step
else:                    # killed in the middle of writing a checkpoint
    orig_save, calls = torch.save, []
    def save(obj, fh, *a, **k):
        calls.append(1)
        if len(calls) == kill_at:
            last = {out!r} + "/checkpoints/last.pt"
            open({out!r} + "/before.sha256", "w").write(hashlib.sha256(open(last, "rb").read()).hexdigest())
            fh.write(b"PK\x03\x04 half a checkpoint")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return orig_save(obj, fh, *a, **k)
    torch.save = save
train({cfg!r}, {out!r})
"""


def _killed_run(cfg: dict, out: Path, mode: str, kill_at: int) -> None:
    code = _KILLER.format(tests=str(TESTS), mode=mode, kill_at=kill_at, cfg=cfg, out=str(out),
                          threads=torch.get_num_threads())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def _weights_digest(path: Path) -> str:
    ck = torch.load(path, weights_only=True)
    h = hashlib.sha256()
    for k in sorted(ck["state_dict"]):
        h.update(k.encode() + ck["state_dict"][k].numpy().tobytes())
    return h.hexdigest()


def test_kill9_during_training_then_resume_equals_an_uninterrupted_run(tiny, tmp_path):
    """kill -9 at step 6 (checkpoint at 4, steps 5-6 already logged), then --resume: the checkpoint is the old
    step-4 state, the log holds each step once, and the final weights hash like an uninterrupted run's."""
    cfg = tiny_config(tiny, schedule={"steps": 8}, logging={"log_every": 1, "checkpoint_every": 4})
    straight = tmp_path / "straight"
    train(cfg, straight)
    killed = tmp_path / "killed"
    _killed_run(cfg, killed, "step", kill_at=6)
    assert _steps(killed) == [1, 2, 3, 4, 5, 6] and load_checkpoint(killed / "checkpoints" / "last.pt")["step"] == 4
    train(cfg, killed, resume=True)
    assert _steps(killed) == list(range(1, 9))
    la = [json.loads(x)["loss"] for x in (straight / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["loss"] for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert la == lb
    assert _weights_digest(killed / "checkpoints" / "last.pt") == _weights_digest(straight / "checkpoints" / "last.pt")


def test_kill9_while_writing_a_checkpoint_keeps_the_previous_one(tiny, tmp_path):
    cfg = tiny_config(tiny, schedule={"steps": 8}, logging={"log_every": 1, "checkpoint_every": 4})
    killed = tmp_path / "killed"
    killed.mkdir()
    _killed_run(cfg, killed, "save", kill_at=2)  # the first save (step 4) completes, the final one is killed
    last = killed / "checkpoints" / "last.pt"
    assert _sha(last) == (killed / "before.sha256").read_text()
    assert load_checkpoint(last)["step"] == 4
    assert train(cfg, killed, resume=True)["steps"] == 8
    assert _steps(killed) == list(range(1, 9))
