"""DDP on CPU (gloo): two processes end with identical weights, the loss decreases, only rank 0 writes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import yaml
from test_train_support import tiny_config, write_tiny_dataset

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cfg: dict, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from gyrobench.config import from_dict
    from gyrobench.train import ddp
    from gyrobench.train.config import TrainConfig
    from gyrobench.train.trainer import Trainer

    info = ddp.setup("cpu")
    try:
        trainer = Trainer(from_dict(TrainConfig, cfg), out, dist_info=info, show_progress=False)
        trainer.fit()
        torch.save(trainer.model.state_dict(), os.path.join(out, f"weights-rank{rank}.pt"))
    finally:
        ddp.teardown()


def test_two_process_gloo_identical_weights(tmp_path):
    data = write_tiny_dataset(tmp_path / "data", n_train=16, n_test=0)
    cfg = tiny_config(data, schedule={"steps": 16, "batch_size": 4})
    out = tmp_path / "run"
    out.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), cfg, str(out)), nprocs=2, join=True)
    w0 = torch.load(out / "weights-rank0.pt", weights_only=True)
    w1 = torch.load(out / "weights-rank1.pt", weights_only=True)
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    ck = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    for k in w0:
        assert torch.equal(w0[k], ck["state_dict"][k])
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 16  # rank 0 only
    assert np.mean([r["loss"] for r in lines[-4:]]) < np.mean([r["loss"] for r in lines[:4]])
    assert json.loads((out / "run.json").read_text())["world_size"] == 2


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed beside this Python")
def test_torchrun_cli(tmp_path):
    data = write_tiny_dataset(tmp_path / "data", n_train=8, n_test=0)
    cfg = tiny_config(data, schedule={"steps": 4, "batch_size": 4},
                      model={"name": "nafnet", "options": {"width": 8, "enc_blk_nums": [1], "middle_blk_num": 1,
                                                           "dec_blk_nums": [1]}})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m", "gyrobench",
                          "train", str(path), "--out", str(tmp_path / "run")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert ck["step"] == 4 and ck["train"]["world_size"] == 2
