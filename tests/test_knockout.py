"""Path knock-outs (issue 22): what each depth of a U-Net, and GyroDeblurNet's GDBs, carry.

References are closed forms: an ``up`` whose 1×1 conv is zero contributes nothing, so cutting its input changes
nothing; a ``gdb_residual`` block with ``s = 0`` is the identity, so cutting it changes nothing; a cut of the
deepest level equals the network run with the bottleneck's NAFBlocks and GDB made irrelevant by zeroing that input.
The intact PSNR of :func:`path_knockouts` is checked against ``gyrobench eval``'s record (a second code path).
"""

from __future__ import annotations

import json

import pytest
import torch
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.evaluate.knockout import SHUFFLED
from gyrobench.models import build
from gyrobench.models.knockout import GDB_CUT, cut, cuts

GDN_TINY = {"width": 8, "enc_blk_nums": [1, 1, 1], "middle_blk_num": 2, "dec_blk_nums": [1, 1, 1], "gdb_num": 1,
            "dcn_backend": "torch"}


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"blurred": torch.rand(1, 3, 32, 32, generator=g), "cmf_noisy": torch.randn(1, 16, 16, 16, generator=g)}


def _perturb(net):
    """Non-zero layer scales everywhere, so every block (and the GDB's residual) acts."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("beta", "gamma", "res_scale")):
                p.fill_(0.5)
    return net


def test_cuts_are_listed_per_architecture():
    gdn = build("gyrodeblurnet", **GDN_TINY)
    assert cuts(gdn) == ["1/8 and deeper", "1/4 and deeper", "1/2 and deeper", GDB_CUT]
    naf = build("nafnet", width=4, enc_blk_nums=[1, 1, 1, 1], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1])
    assert cuts(naf) == ["1/16 and deeper", "1/8 and deeper", "1/4 and deeper", "1/2 and deeper"]
    assert cuts(torch.nn.Conv2d(3, 3, 1)) == []
    with pytest.raises(ValueError, match="has: 1/8 and deeper"):
        with cut(gdn, "bottleneck"):
            pass


def test_a_zero_up_carries_nothing_and_a_live_one_does():
    torch.manual_seed(0)
    net = _perturb(build("gyrodeblurnet", **GDN_TINY)).eval()
    b = _batch()
    with torch.no_grad():
        y = net(b)
        with cut(net, "1/8 and deeper"):
            y_cut = net(b)
        torch.nn.init.zeros_(net.ups[0][0].weight)  # the deepest level's up now adds exactly 0
        y0 = net(b)
        with cut(net, "1/8 and deeper"):
            y0_cut = net(b)
        y_after = net(b)
    assert float((y - y_cut).abs().max()) > 1e-5
    assert torch.equal(y0, y0_cut)
    assert torch.equal(y0, y_after)  # the hooks are gone after the block


def test_gdb_cut_is_the_identity_block():
    torch.manual_seed(1)
    net = build("gyrodeblurnet", **GDN_TINY, gdb_residual=True, gyro_norm=True).eval()
    b = _batch(1)
    with torch.no_grad():
        y = net(b)
        with cut(net, GDB_CUT):
            y_cut = net(b)
    assert torch.equal(y, y_cut)  # s = 0: the residual GDB is X + 0
    _perturb(net)
    with torch.no_grad():
        y = net(b)
        with cut(net, GDB_CUT):
            y_cut = net(b)
            # with the GDB cut the field reaches the output only through nothing: another field, same output
            y_other = net({**b, "cmf_noisy": _batch(2)["cmf_noisy"]})
    assert float((y - y_cut).abs().max()) > 1e-5
    assert torch.equal(y_cut, y_other)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("tinyk"), n_train=4, n_test=2)


def test_health_paths_reports_cuts_and_matches_eval(tiny, tmp_path, capsys):
    from gyrobench.cli import main
    from gyrobench.train.trainer import train

    cfg = tiny_config(tiny, model={"name": "gyrodeblurnet", "options": GDN_TINY}, curriculum=False,
                      schedule={"steps": 2, "batch_size": 2})
    train(cfg, tmp_path / "r")
    ckpt = tmp_path / "r" / "checkpoints" / "last.pt"
    assert main(["health", str(ckpt), "--data", str(tiny), "--split", "test", "--paths", "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    paths = rec["paths"]
    assert [c["cut"] for c in paths["cuts"]] == [*cuts(build("gyrodeblurnet", **GDN_TINY)), SHUFFLED]
    assert all(c["images"] == 2 and c["lo"] <= c["delta_db"] <= c["hi"] for c in paths["cuts"])
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(tiny), "--split", "test", "--metrics", "psnr",
                 "--out", str(tmp_path / "e")]) == 0
    record = json.loads((tmp_path / "e" / "results.json").read_text())
    assert paths["intact_psnr"] == pytest.approx(record["metrics"]["psnr"]["mean"], abs=1e-9)
    # the shuffled-field row is eval's gyro_field: shuffled
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(tiny), "--split", "test", "--metrics", "psnr",
                 "--gyro-field", "shuffled", "--out", str(tmp_path / "s")]) == 0
    shuffled = json.loads((tmp_path / "s" / "results.json").read_text())["metrics"]["psnr"]["mean"]
    assert paths["cuts"][-1]["psnr"] == pytest.approx(shuffled, abs=1e-9)
    # a NAFNet has paths but no deformable layer: --paths still reports it
    train(tiny_config(tiny, model={"name": "nafnet", "options": {"width": 4, "enc_blk_nums": [1, 1, 1, 1]}},
                      schedule={"steps": 1}), tmp_path / "n")
    capsys.readouterr()
    assert main(["health", str(tmp_path / "n" / "checkpoints" / "last.pt"), "--data", str(tiny), "--split", "test",
                 "--paths"]) == 0
    assert "1/16 and deeper" in capsys.readouterr().out
