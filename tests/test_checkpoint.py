"""Checkpoints (docs/conventions.md §4): atomic writes, weights_only loads, refusal of pickled code."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from gyrobench.errors import CheckpointError
from gyrobench.train.checkpoint import (
    capture_rng,
    load_checkpoint,
    model_from_checkpoint,
    restore_rng,
    save_checkpoint,
)


class Payload:
    """A custom class: unpickling it would run arbitrary code (here: set an environment variable)."""

    def __reduce__(self):
        return (os.putenv, ("GYROBENCH_PWNED", "1"))


class Custom:
    """A harmless custom object: still code-by-reference, so it must be refused too."""


def _fields(**extra):
    return {"model": "nafnet", "options": {"width": 8}, "state_dict": {"w": torch.ones(2)}, "step": 3, **extra}


def test_roundtrip_and_format(tmp_path):
    p = save_checkpoint(tmp_path / "a" / "c.pt", **_fields(config={"lr": 1e-4}))
    ck = load_checkpoint(p)
    assert ck["format"] == "gyrobench-checkpoint/1" and ck["step"] == 3 and ck["config"] == {"lr": 1e-4}
    assert [x.name for x in p.parent.iterdir()] == ["c.pt"]  # no temp file left behind


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({**_fields(), "format": "gyrobench-checkpoint/1", "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert "GYROBENCH_PWNED" not in os.environ
    path2 = tmp_path / "cls.pt"
    torch.save({**_fields(), "format": "gyrobench-checkpoint/1", "extra": Custom()}, path2)
    with pytest.raises(CheckpointError, match="cls.pt.*refused"):
        load_checkpoint(path2)


def test_bad_files_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)
    bare = tmp_path / "bare.pt"
    torch.save({"w": torch.ones(1)}, bare)
    with pytest.raises(CheckpointError, match="load_official"):
        load_checkpoint(bare)
    torch.save({"format": "gyrobench-checkpoint/1", "model": "nafnet"}, bare)
    with pytest.raises(CheckpointError, match="options, state_dict"):
        load_checkpoint(bare)


def test_truncated_write_keeps_previous_file(tmp_path, monkeypatch):
    p = save_checkpoint(tmp_path / "c.pt", **_fields())

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(p, **_fields(step=99))
    monkeypatch.undo()
    assert load_checkpoint(p)["step"] == 3
    assert [x.name for x in tmp_path.iterdir()] == ["c.pt"]


def test_rng_capture_restore_roundtrip(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    p = save_checkpoint(tmp_path / "r.pt", **_fields(rng=capture_rng()))
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    restore_rng(load_checkpoint(p)["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_model_from_checkpoint_mismatch(tmp_path):
    from gyrobench.models import build

    opts = {"width": 8, "enc_blk_nums": [1], "middle_blk_num": 1, "dec_blk_nums": [1]}
    model = build("nafnet", **opts)
    p = save_checkpoint(tmp_path / "n.pt", model="nafnet", options=opts, state_dict=model.state_dict())
    rebuilt, ck = model_from_checkpoint(p)
    for k, v in model.state_dict().items():
        assert torch.equal(v, rebuilt.state_dict()[k])
    bad = dict(model.state_dict())
    bad.pop(next(iter(bad)))
    p2 = save_checkpoint(tmp_path / "m.pt", model="nafnet", options=opts, state_dict=bad)
    with pytest.raises(CheckpointError, match="state_dict"):
        model_from_checkpoint(p2)


@pytest.mark.parametrize("content", [b"name: run\nmodel: {name: nafnet}\n", b'{"model": "nafnet"}', b"",
                                     b"\x89PNG\r\n\x1a\n", b"hello world\n"])
def test_non_torch_file_is_not_called_pickled_code(tmp_path, content):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"config.yaml: not a torch checkpoint") as err:
        load_checkpoint(path)
    assert "pickled" not in str(err.value)


def test_legacy_torch_format_still_loads(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({**_fields(), "format": "gyrobench-checkpoint/1"}, path, _use_new_zipfile_serialization=False)
    assert load_checkpoint(path)["step"] == 3


def test_text_checkpoint_through_the_cli(smoke_data, tmp_path, capsys):
    from gyrobench.cli import main as cli_main

    path = tmp_path / "notes.txt"
    path.write_text("this is not a checkpoint\n")
    assert cli_main(["eval", "--checkpoint", str(path), "--data", str(smoke_data), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "not a torch checkpoint" in err and "pickled" not in err and len(err.strip().splitlines()) == 1


def _flip_tensor_bytes(path, n=400):
    """Flip ``n`` bytes in the middle of the largest tensor record of a torch zip checkpoint (found with zipfile,
    independently of gyrobench): the archive still opens and unpickles, only the weights change."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2 - n // 2
    for i in range(start, start + n):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_integrity_digest_detects_flipped_tensor_bytes(tmp_path):
    """Issue 13 item 2: 400 bytes flipped inside a tensor used to load silently (100 weights changed)."""
    state = {"w": torch.arange(4096, dtype=torch.float32), "b": torch.zeros(3)}
    p = save_checkpoint(tmp_path / "c.pt", model="nafnet", options={}, state_dict=state, step=7,
                        optimizer={"state": {0: {"exp_avg": torch.ones(5)}}, "param_groups": [{"lr": 1e-4}]})
    good = load_checkpoint(p)
    assert torch.equal(good["state_dict"]["w"], state["w"]) and good["integrity"]["algorithm"] == "sha256"
    _flip_tensor_bytes(p)
    raw = torch.load(p, weights_only=True)  # torch itself does not notice
    assert (raw["state_dict"]["w"] != state["w"]).sum() == 100
    with pytest.raises(CheckpointError, match=r"c\.pt: contents do not match the checkpoint's integrity digest"):
        load_checkpoint(p)


def test_integrity_digest_covers_every_field(tmp_path):
    """Changing any field after saving (here the step, a plain int) is caught; files without a digest (older
    gyrobench) still load."""
    p = save_checkpoint(tmp_path / "c.pt", **_fields(optimizer={"state": {}, "param_groups": []}))
    ck = torch.load(p, weights_only=True)
    torch.save({**ck, "step": 4}, p)
    with pytest.raises(CheckpointError, match="integrity digest"):
        load_checkpoint(p)
    torch.save({**ck, "integrity": "x"}, p)
    with pytest.raises(CheckpointError, match="'integrity' is malformed"):
        load_checkpoint(p)
    old = {k: v for k, v in ck.items() if k != "integrity"}
    torch.save(old, p)
    assert load_checkpoint(p)["step"] == 3


def test_integrity_digest_is_independent_of_file_layout():
    """The digest depends on values, dtype and shape only: the same tensor as a non-contiguous view hashes the
    same, a different dtype or shape does not."""
    from gyrobench.train.checkpoint import content_digest

    a = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    assert content_digest({"x": a.t().contiguous()}) == content_digest({"x": a.t()})
    assert content_digest({"x": a}) != content_digest({"x": a.double()})
    assert content_digest({"x": a}) != content_digest({"x": a.reshape(4, 3)})
    assert content_digest({"x": [1, 2]}) != content_digest({"x": (1, 2)})
