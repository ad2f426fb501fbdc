"""Deformable-block health (issue 22): the instruments against closed forms, and where they are reported.

Reference values are closed forms: a 3x3 conv with padding 1 on an HxW map has ``(3H-2)(3W-2)/(9HW)`` of its
sampling points inside (the border taps at -1 and H fall outside), an offset of a whole map size moves every point
out, a constant offset (a, b) has magnitude sqrt(a² + b²) at every point.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.errors import RecipeError
from gyrobench.models import build
from gyrobench.models.dcn import DeformableConv2d
from gyrobench.models.health import BlockHealth, dead_reasons, deform_layers, probe, sampling_stats

GDN_TINY = {"width": 8, "enc_blk_nums": [1, 1, 1], "middle_blk_num": 2, "dec_blk_nums": [1, 1, 1], "gdb_num": 1}


@pytest.mark.parametrize("h, w", [(8, 8), (5, 7), (60, 60)])
def test_inside_fraction_of_a_regular_grid_is_the_closed_form(h, w):
    s = sampling_stats(torch.zeros(2, 18, h, w), None, (h, w), (3, 3))
    assert s["inside_sum"] / s["n"] == pytest.approx((3 * h - 2) * (3 * w - 2) / (9 * h * w), abs=1e-12)
    assert s["offset_sum"] == 0 and s["mask_sum"] == s["n"]


def test_offsets_move_points_out_and_have_their_magnitude():
    h, w = 6, 9
    off = torch.zeros(1, 18, h, w)
    off[:, 0::2], off[:, 1::2] = 3.0, 4.0  # (dy, dx) = (3, 4) at every tap: |offset| = 5 px
    s = sampling_stats(off, torch.full((1, 9, h, w), 0.5), (h, w), (3, 3))
    assert s["offset_sum"] / s["n"] == pytest.approx(5.0) and s["offset_max"] == pytest.approx(5.0)
    assert s["mask_sum"] / s["n"] == pytest.approx(0.5)
    # rows y = i - 1 + a + 3 in (-1, h), columns x = j - 1 + c + 4 in (-1, w): count them directly
    inside = sum(1 for i in range(h) for j in range(w) for a in range(3) for c in range(3)
                 if -1 < i - 1 + a + 3 < h and -1 < j - 1 + c + 4 < w)
    assert s["inside_sum"] == inside and s["live_sum"] == pytest.approx(0.5 * inside)
    out = sampling_stats(off * 0 + h + w, None, (h, w), (3, 3))
    assert out["inside_sum"] == 0


def test_probe_measures_a_layer_without_changing_its_output_or_gradient():
    torch.manual_seed(0)
    dcn = DeformableConv2d(4, 4, guide_channels=4, backend="torch")
    torch.nn.init.normal_(dcn.offset_conv.weight, std=0.3)
    x = torch.randn(2, 4, 10, 10, requires_grad=True)
    y0 = dcn(x)
    (g0,) = torch.autograd.grad(y0.square().sum(), x)
    with probe(dcn) as p:
        y1 = dcn(x)
    (g1,) = torch.autograd.grad(y1.square().sum(), x)
    assert torch.equal(y0, y1) and torch.equal(g0, g1)
    (h,) = p.report()
    off, mask = dcn.offsets_and_mask(x)
    ref = sampling_stats(off, mask, (10, 10), (3, 3))
    assert h.offset_mean_px == pytest.approx(ref["offset_sum"] / ref["n"]) and h.offset_mean_px > 0.1
    assert h.mask_mean == pytest.approx(1.0, abs=1e-6)  # 2·sigmoid(0): the zero-initialised modulator
    assert h.output_abs == pytest.approx(float(y0.detach().abs().mean()))
    assert h.input_abs == pytest.approx(float(x.detach().abs().mean()))
    assert dcn._health_probe is None  # detached after the block


def test_every_deformable_model_is_found_and_alive_at_initialisation():
    gdn = build("gyrodeblurnet", **GDN_TINY, dcn_backend="torch")
    egg = build("eggnet", width=4, enc_blocks=1, dec_blocks=1, mid_blocks=1, dcn_backend="torch")
    assert list(deform_layers(gdn)) == ["gyro_deblurring_blks.0.gyro_block.conv_deform"]
    assert list(deform_layers(egg)) == ["gtm.dcn", "igtm1.dcn", "igtm2.dcn"]
    batch = {"blurred": torch.rand(1, 3, 64, 64), "cmf_clean": torch.randn(1, 16, 32, 32)}
    for net in (gdn, egg):
        with torch.no_grad(), probe(net) as p:
            net(batch)
        assert all(not h.dead() for h in p.report()), p.report()
    assert not deform_layers(build("nafnet", width=8, enc_blk_nums=[1, 1, 1, 1]))


def test_dead_reasons_name_each_floor():
    alive = BlockHealth("b", 1, 0.5, 2.0, 0.95, 0.9, 0.85, 0.1, 0.05)
    assert dead_reasons(alive) == []
    dead = BlockHealth("b", 1, 2458.0, 9e3, 0.0, 0.0, 0.0, 0.1, 0.0)
    why = " ".join(dead_reasons(dead))
    assert "offset mean" in why and "inside" in why and "output" in why
    # a small mask with a large main weight still carries the input: not dead (mask and weight multiply)
    assert dead_reasons(BlockHealth("b", 1, 1.0, 2.0, 0.9, 0.05, 0.045, 0.1, 0.05)) == []
    assert dead_reasons(BlockHealth("b", 1, math.nan, math.nan, 1.0, 1.0, 1.0, 0.1, 0.1))


def test_gdb_residual_starts_as_the_identity_and_gyro_norm_bounds_the_guide():
    torch.manual_seed(1)
    net = build("gyrodeblurnet", **GDN_TINY, gdb_residual=True, gyro_norm=True, dcn_backend="torch")
    gdb = net.gyro_deblurring_blks[0]
    x, g = torch.randn(1, 64, 4, 4), torch.randn(1, 64, 4, 4) * 1e3  # width 8: 64 channels at 1/8
    assert torch.equal(gdb(x, g), x)  # s = 0: X + 0 · GDB(X, G)
    ref = build("gyrodeblurnet", **GDN_TINY)
    extra = set(net.state_dict()) - set(ref.state_dict())
    assert extra == {"gyro_deblurring_blks.0.res_scale"} | {f"gyro_norms.{i}.{k}" for i in range(3)
                                                            for k in ("weight", "bias")}
    # the gyro feature that reaches the GDB grows with the field without gyro_norm, and not with it
    batch = {"blurred": torch.rand(1, 3, 32, 32), "cmf_clean": torch.randn(1, 16, 16, 16)}
    for model, grows in ((ref, True), (net, False)):
        seen: list = []
        model.gyro_deblurring_blks[0].register_forward_pre_hook(
            lambda m, args, seen=seen: seen.append(args[1].abs().mean()))
        with torch.no_grad():
            model(batch)
            model({**batch, "cmf_clean": batch["cmf_clean"] * 1000})
        ratio = float(seen[1] / seen[0])
        assert ratio > 50 if grows else ratio == pytest.approx(1.0, rel=0.05), ratio


def test_max_offset_bounds_every_offset():
    dcn = DeformableConv2d(2, 2, guide_channels=2, backend="torch", max_offset=1.5)
    torch.nn.init.constant_(dcn.offset_conv.bias, 100.0)
    with torch.no_grad():
        off, _ = dcn.offsets_and_mask(torch.zeros(1, 2, 5, 5))
    assert float(off.max()) <= 1.5 and float(off.max()) > 1.49
    with pytest.raises(RecipeError, match="max_offset"):
        build("gyrodeblurnet", **GDN_TINY, max_offset=0)


# ---------------------------------------------------------------- training: lr_mult and the health log
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("tinyh"), n_train=4, n_test=2)


def _gdn_config(tiny, **over):
    return tiny_config(tiny, model={"name": "gyrodeblurnet", "options": {**GDN_TINY, "dcn_backend": "torch"}},
                       curriculum=False, **over)


def test_lr_mult_scales_the_first_adam_step_of_matching_parameters(tiny, tmp_path):
    """Adam's first step moves a weight by lr·g/(|g| + eps) ≈ ±lr wherever its gradient is not ~0; with
    ``lr_mult`` the weights whose name holds the key move by ±lr·mult instead."""
    from gyrobench.train.trainer import train

    lr = 1e-3

    def run(name, **sched):
        cfg = _gdn_config(tiny, schedule={"steps": 1, "lr": lr, "lr_min": lr, "batch_size": 2, **sched})
        train(cfg, tmp_path / name)
        return torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=True)["state_dict"]

    start = run("start", lr=1e-15, lr_min=1e-15)
    moved = run("mult", lr_mult={"offset_conv": 0.1})

    def step_sizes(key):
        d = (moved[key].double() - start[key].double()).abs().flatten() / lr
        return d[d > 1e-3]

    off = step_sizes("gyro_deblurring_blks.0.gyro_block.conv_deform.offset_conv.bias")
    other = step_sizes("intro.weight")
    assert off.numel() and torch.allclose(off, torch.full_like(off, 0.1), atol=0.01)
    assert other.numel() and float((other - 1).abs().median()) < 0.01


def test_lr_mult_key_that_matches_nothing_is_an_error(tiny, tmp_path):
    from gyrobench.train.trainer import train

    with pytest.raises(RecipeError, match="offset_cnv"):
        train(_gdn_config(tiny, schedule={"steps": 1, "lr_mult": {"offset_cnv": 0.1}}), tmp_path / "r")


def test_training_logs_health_per_layer_and_warns_when_a_block_dies(tiny, tmp_path, caplog):
    from gyrobench.train.trainer import train

    # a learning rate far too high for the offsets (10 per Adam step): the block must be reported dead
    train(_gdn_config(tiny, schedule={"steps": 6, "lr": 1e-3, "lr_min": 1e-3, "batch_size": 2,
                                      "lr_mult": {"offset_conv": 1e4}}), tmp_path / "r")
    recs = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    name = "gyro_deblurring_blks.0.gyro_block.conv_deform"
    assert all(name in r["deform"] for r in recs)
    first = recs[0]["deform"][name]
    assert first["offset_mean_px"] == 0.0 and first["mask_mean"] == pytest.approx(1.0)  # measured at step 1's forward
    assert any("is DEAD" in m and name in m for m in caplog.messages)


def test_health_command_reports_a_checkpoint(tiny, tmp_path, capsys):
    from gyrobench.cli import main
    from gyrobench.train.trainer import train

    train(_gdn_config(tiny, schedule={"steps": 2, "batch_size": 2}), tmp_path / "r")
    ckpt = tmp_path / "r" / "checkpoints" / "last.pt"
    assert main(["health", str(ckpt), "--data", str(tiny), "--split", "test", "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    (block,) = rec["blocks"]
    assert block["name"].endswith("conv_deform") and block["calls"] == 2 and block["dead"] == []
    assert main(["health", str(ckpt), "--data", str(tiny), "--split", "test"]) == 0
    assert "1 alive, 0 dead" in capsys.readouterr().out
    nafnet = tmp_path / "n"
    train(tiny_config(tiny, model={"name": "nafnet", "options": {"width": 4, "enc_blk_nums": [1, 1, 1, 1]}},
                      schedule={"steps": 1}), nafnet)
    assert main(["health", str(nafnet / "checkpoints" / "last.pt"), "--data", str(tiny)]) == 2
    assert "no deformable layer" in capsys.readouterr().err
