"""GyroDeblurNet: official keys/shapes and parameter count, forward/backward, gyro path, α mix, padding rule,
ablation options, and official checkpoint loading (weights_only, strict, clear errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gyrobench.errors import CheckpointError, ShapeError
from gyrobench.models import build, load_official


def _block(c):
    return 7 * c * c + 33 * c  # NAFBlock(c), baselines.md §2.3


def _conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def expected_params():
    """Independent count from the architecture of gyrodeblurnet.md §5.2–§5.3 (not from the code under test)."""
    total = _conv(3, 32, 3) + _conv(16, 64, 3) + _conv(32, 3, 3)  # intro, intro_gyro, ending
    c = 32
    for level in range(3):
        total += 2 * _block(c) + _conv(c, 2 * c, 2)  # encoder blocks, down
        if level > 0:  # GRB(c): conv_ca_weight 2c→c, conv_gyro c→c, conv_down c→2c (all 3×3 with bias)
            total += _conv(2 * c, c, 3) + _conv(c, c, 3) + _conv(c, 2 * c, 3)
        c *= 2
    total += 16 * _block(c)  # middle
    gdb = (
        _conv(2 * c, 18, 3)
        + _conv(2 * c, 9, 3)
        + _conv(c, c, 3, bias=False)
        + _block(c)
        + 2 * 49
        + 2
        + _conv(2 * c, c, 3)
    )  # offsets, modulator, DCN weight, NAF, SA conv + BN affine, fusion
    total += 3 * gdb
    for _ in range(3):
        total += _conv(c, 2 * c, 1, bias=False) + _block(c // 2)
        c //= 2
    return total


def expected_params_sized(width, enc, middle, dec, gdb):
    """The same independent count for the size options: gyro branch at 2·width, GRBs at levels 1 and 2."""
    total = _conv(3, width, 3) + _conv(16, 2 * width, 3) + _conv(width, 3, 3)
    c = width
    for level in range(3):
        total += enc[level] * _block(c) + _conv(c, 2 * c, 2)
        if level > 0:
            total += _conv(2 * c, c, 3) + _conv(c, c, 3) + _conv(c, 2 * c, 3)
        c *= 2
    total += middle * _block(c)
    total += gdb * (_conv(2 * c, 18, 3) + _conv(2 * c, 9, 3) + _conv(c, c, 3, bias=False) + _block(c) + 2 * 49 + 2
                    + _conv(2 * c, c, 3))
    for level in range(3):
        total += _conv(c, 2 * c, 1, bias=False) + dec[level] * _block(c // 2)
        c //= 2
    return total


@pytest.mark.parametrize("width,enc,middle,dec,gdb", [(32, (2, 2, 2), 16, (1, 1, 1), 3), (16, (1, 1, 1), 4, (1, 1, 1), 2),
                                                      (8, (1, 0, 2), 3, (0, 1, 1), 1), (12, (1, 1, 1), 1, (1, 1, 1), 0)])
def test_size_options_param_count_and_forward(width, enc, middle, dec, gdb):
    opts = dict(width=width, enc_blk_nums=enc, middle_blk_num=middle, dec_blk_nums=dec, gdb_num=gdb)
    model = build("gyrodeblurnet", **opts)
    assert sum(p.numel() for p in model.parameters()) == expected_params_sized(width, enc, middle, dec, gdb)
    assert sum(isinstance(b, torch.nn.Sequential) for b in model.middle_blks) == gdb + 1
    out = model(_batch(b=1, h=16, w=24))
    assert out.shape == (1, 3, 16, 24)
    out.mean().backward()


def test_cmf_scale_equals_scaling_the_field():
    torch.manual_seed(0)
    a = _randomized(seed=1, width=8, enc_blk_nums=(1, 1, 1), middle_blk_num=2, gdb_num=1)
    torch.manual_seed(0)
    b = _randomized(seed=1, name="gyrodeblurnet_diagnostic", width=8, enc_blk_nums=(1, 1, 1), middle_blk_num=2,
                    gdb_num=1, cmf_scale=0.05)
    batch = _batch(b=1, h=16, w=24)
    scaled = dict(batch, cmf_clean=batch["cmf_clean"] * 0.05, cmf_noisy=batch["cmf_noisy"] * 0.05)
    with torch.no_grad():
        torch.testing.assert_close(b(batch), a(scaled))
        assert not torch.allclose(b(batch), a(batch))


def _randomized(seed=0, name="gyrodeblurnet", **opts):
    torch.manual_seed(seed)
    model = build(name, **opts)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "offset_conv" in name or "modulator_conv" in name:
                p.normal_(0, 0.5)  # offsets of a few pixels from the (small) default-init features
            elif name.endswith(("beta", "gamma")):
                p.normal_(0, 0.1)  # give the zero-initialised residual branches a role
    return model.eval()


def _batch(b=1, h=32, w=32, m=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    cmf = torch.randn(b, 2 * m, hp // 2, wp // 2, generator=g) * 3
    return {
        "blurred": torch.rand(b, 3, h, w, generator=g),
        "cmf_clean": cmf,
        "cmf_noisy": cmf.clone(),
        "alpha": 1.0,
    }


def test_param_count():
    assert expected_params() == 16_311_296
    with torch.device("meta"):
        model = build("gyrodeblurnet")
    assert sum(p.numel() for p in model.parameters()) == 16_311_296
    assert len(model.state_dict()) == 570


def test_state_dict_equals_official_key_file(official_keys):
    keys = official_keys("gyrodeblurnet-official-keys.txt")
    assert len(keys) == 570
    with torch.device("meta"):
        sd = build("gyrodeblurnet").state_dict()
    assert list(sd) == [k for k, _ in keys]
    assert {k: tuple(v.shape) for k, v in sd.items()} == dict(keys)


def test_init_conventions():
    model = build("gyrodeblurnet")
    gdb = model.gyro_deblurring_blks[0]
    assert gdb.gyro_block.conv_deform.offset_conv.weight.abs().sum() == 0
    assert gdb.gyro_block.conv_deform.modulator_conv.bias.abs().sum() == 0
    assert gdb.spatial_attn.conv[1].momentum == 0.01
    assert isinstance(model.gyro_refine_blks[0], torch.nn.Identity)
    assert isinstance(model.gyro_deblurring_blks[3], torch.nn.Identity)


def test_forward_backward_train_mode():
    model = build("gyrodeblurnet").train()
    batch = _batch(b=2)
    out = model(batch)
    assert out.shape == (2, 3, 32, 32)
    loss = (out - torch.rand_like(out)).pow(2).mean()
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads["intro.weight"].abs().sum() > 0
    assert all(torch.isfinite(g).all() for g in grads.values() if g is not None)
    # zero-initialised offset and modulator convs still get a nonzero gradient: the bilinear sampling depends on
    # the positions (one-sided slope at the integer positions of a zero offset) and the output on the modulator
    for i in range(3):
        for conv in ("offset_conv", "modulator_conv"):
            for part in ("weight", "bias"):
                name = f"gyro_deblurring_blks.{i}.gyro_block.conv_deform.{conv}.{part}"
                assert grads[name] is not None and grads[name].abs().sum() > 0, name


def test_gyro_path_matters_once_offsets_are_nonzero():
    batch = _batch()
    other = dict(batch, cmf_clean=batch["cmf_clean"] * -1.0, cmf_noisy=batch["cmf_noisy"] * -1.0)
    fresh = build("gyrodeblurnet").eval()
    with torch.no_grad():
        # zero-initialised offsets/modulator: the field has no effect yet
        torch.testing.assert_close(fresh(batch), fresh(other))
        model = _randomized()
        diff = (model(batch) - model(other)).abs().max()
    assert diff > 1e-4


def test_alpha_mix_equals_mixing_the_fields():
    """§4: α·intro(noisy) + (1−α)·intro(clean) == intro(α·noisy + (1−α)·clean) (affine conv, shared bias)."""
    model = _randomized()
    b = _batch(b=2, seed=1)
    noisy = b["cmf_clean"] + torch.randn_like(b["cmf_clean"])
    alpha = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        out = model(dict(b, cmf_noisy=noisy, alpha=alpha))
        mixed = alpha.view(2, 1, 1, 1) * noisy + (1 - alpha.view(2, 1, 1, 1)) * b["cmf_clean"]
        ref = model(dict(b, cmf_clean=mixed, cmf_noisy=mixed, alpha=1.0))
        torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)
        # α = 0 uses only the clean field, α = 1 only the noisy one
        torch.testing.assert_close(model(dict(b, cmf_noisy=noisy, alpha=0.0)), model(dict(b, alpha=1.0)))
        torch.testing.assert_close(
            model(dict(b, cmf_noisy=noisy, alpha=1.0)),
            model(dict(b, cmf_clean=noisy, cmf_noisy=noisy, alpha=1.0)),
        )


def test_padding_rule_60x60():
    """§9.9: a 60×60 image runs with a 32×32 field; the result equals the crop of the zero-padded 64×64 run."""
    model = _randomized()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 60, 60, generator=g)
    cmf32 = torch.randn(1, 16, 32, 32, generator=g)
    with torch.no_grad():
        out = model({"blurred": x, "cmf_clean": cmf32})
        padded = model({"blurred": F.pad(x, (0, 4, 0, 4)), "cmf_clean": cmf32})
    assert out.shape == (1, 3, 60, 60)
    torch.testing.assert_close(out, padded[..., :60, :60])


def test_unpadded_field_is_edge_replicated():
    model = _randomized()
    g = torch.Generator().manual_seed(4)
    x = torch.rand(1, 3, 60, 44, generator=g)  # padded 64×48 → field 32×24; unpadded half size 30×22
    small = torch.randn(1, 16, 30, 22, generator=g)
    arr = small.numpy()
    arr = np.concatenate([arr, np.repeat(arr[:, :, -1:], 2, axis=2)], axis=2)  # replicate the last row twice
    arr = np.concatenate([arr, np.repeat(arr[:, :, :, -1:], 2, axis=3)], axis=3)  # and the last column
    with torch.no_grad():
        out = model({"blurred": x, "cmf_clean": small})
        ref = model({"blurred": x, "cmf_clean": torch.from_numpy(arr)})
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize(
    "shape,match",
    [((1, 16, 29, 30), "spatial size"), ((1, 12, 32, 32), "16 channels"), ((1, 16, 40, 40), "spatial size")],
)
def test_bad_field_shapes_raise(shape, match):
    model = build("gyrodeblurnet")
    with pytest.raises(ShapeError, match=match):
        model({"blurred": torch.rand(1, 3, 60, 60), "cmf_clean": torch.zeros(shape)})


def test_missing_field_raises():
    with pytest.raises(ShapeError, match="cmf_clean"):
        build("gyrodeblurnet")({"blurred": torch.rand(1, 3, 16, 16)})


def test_no_gyro_ablation_ignores_the_field():
    model = _randomized(use_gyro=False)
    assert model.uses_gyro is False
    b = _batch()
    with torch.no_grad():
        torch.testing.assert_close(model(b), model(dict(b, cmf_clean=b["cmf_clean"] * 5, cmf_noisy=None)))
        torch.testing.assert_close(model(b), model({"blurred": b["blurred"]}))  # no field needed


@pytest.mark.parametrize(
    "opts", [{"M": 2}, {"M": 4}, {"M": 16}, {"refine": "none"}, {"refine": "gyro_only"}, {"offsets": "gyro"}]
)
def test_options_run_forward_backward(opts):
    model = build("gyrodeblurnet", **opts)
    assert model.M == opts.get("M", 8) and model.options == opts
    out = model(_batch(b=1, h=16, w=24, m=opts.get("M", 8)))
    assert out.shape == (1, 3, 16, 24)
    out.mean().backward()


def test_bad_options():
    from gyrobench.errors import GyrobenchError

    for opts in ({"M": 3}, {"refine": "x"}, {"offsets": "x"}, {"width": 0}, {"enc_blk_nums": [1, 1]},
                 {"middle_blk_num": 2, "gdb_num": 2}, {"unknown_option": 1}):
        with pytest.raises(GyrobenchError):
            build("gyrodeblurnet", **opts)
    with pytest.raises(GyrobenchError, match="cmf_scale"):
        build("gyrodeblurnet_diagnostic", cmf_scale=0.0)
    with pytest.raises(GyrobenchError, match="gyrodeblurnet_diagnostic"):  # the paper's network has no such option
        build("gyrodeblurnet", cmf_scale=0.05)


# ---- official checkpoints -------------------------------------------------------------------------------------


def test_load_official_bare_state_dict_roundtrip(tmp_path):
    src = _randomized(seed=5)
    path = tmp_path / "ckpt.pt"
    torch.save(src.state_dict(), path)
    model = load_official("gyrodeblurnet", path)
    b = _batch()
    with torch.no_grad():
        torch.testing.assert_close(model(b), src(b))


def test_load_official_training_format_and_old_prefixes(tmp_path):
    src = _randomized(seed=6)
    sd = {
        k.replace("gyro_refine_blk", "temp_align_blk").replace("gyro_deblurring_blk", "middle_gyro_blk"): v
        for k, v in src.state_dict().items()
    }
    path = tmp_path / "train.pt"
    torch.save({"epoch": 300, "model_state_dict": sd}, path)
    model = load_official("gyrodeblurnet", path)
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def test_tampered_checkpoint_names_missing_and_unexpected_keys(tmp_path):
    sd = build("gyrodeblurnet").state_dict()
    del sd["intro.bias"]
    sd["extra.weight"] = torch.zeros(1)
    sd["ending.weight"] = torch.zeros(3, 32, 5, 5)
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as err:
        load_official("gyrodeblurnet", path)
    msg = str(err.value)
    assert "bad.pt" in msg and "intro.bias" in msg and "extra.weight" in msg and "ending.weight" in msg


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"intro.weight": _Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_official("gyrodeblurnet", path)
    with pytest.raises(CheckpointError, match="no such"):
        load_official("gyrodeblurnet", tmp_path / "missing.pt")


def test_load_official_nafnet_params_format(tmp_path):
    opts = dict(width=8, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])
    src = build("nafnet", **opts)
    path = tmp_path / "NAFNet.pth"
    torch.save({"params": {"module." + k: v for k, v in src.state_dict().items()}}, path)
    model = load_official("nafnet", path, **opts)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in src.state_dict().items())
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_official("nafnet", path, width=16, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])


@pytest.mark.iqa
def test_pure_and_torchvision_backends_agree_in_the_model():
    a = _randomized(seed=8, dcn_backend="torch")
    b = build("gyrodeblurnet", dcn_backend="torchvision").eval()
    b.load_state_dict(a.state_dict())
    batch = _batch(h=64, w=96, seed=8)
    with torch.no_grad():
        torch.testing.assert_close(a(batch), b(batch), atol=1e-5, rtol=1e-5)


def test_official_init_gives_the_gyro_branch_no_gradient_and_offset_init_does():
    """Issue 9 item 6: with zero-initialised offsets the output ignores the gyro at init, so intro_gyro and the
    GRBs get exactly zero gradient; offset_init > 0 (or gyro_concat) opens the path from step 0."""
    small = dict(width=8, enc_blk_nums=(1, 1, 1), middle_blk_num=2, gdb_num=1)
    for opts, expect_zero in (({}, True), ({"offset_init": 0.01}, False), ({"gyro_concat": True, "cmf_scale": 0.05}, False)):
        torch.manual_seed(0)
        model = build("gyrodeblurnet_diagnostic" if opts else "gyrodeblurnet", **small, **opts)
        batch = _batch(b=2, h=32, w=32)
        model(batch).pow(2).mean().backward()
        g = model.intro_gyro.weight.grad if not opts.get("gyro_concat") else model.intro.weight.grad[:, 3:]
        assert (g.abs().max() == 0) == expect_zero, opts


def test_gyro_concat_sees_the_field_and_the_ablation_does_not():
    small = dict(width=8, enc_blk_nums=(1, 1, 1), middle_blk_num=2, gdb_num=1, gyro_concat=True, cmf_scale=0.05)
    torch.manual_seed(0)
    model = build("gyrodeblurnet_diagnostic", **small).eval()
    a, b = _batch(b=1, h=16, w=24, seed=1), _batch(b=1, h=16, w=24, seed=2)
    b["blurred"] = a["blurred"]
    with torch.no_grad():
        assert not torch.allclose(model(a), model(b))
    torch.manual_seed(0)
    blind = build("gyrodeblurnet_diagnostic", **small, use_gyro=False).eval()
    with torch.no_grad():
        torch.testing.assert_close(blind(a), blind(b))


