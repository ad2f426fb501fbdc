"""EggNet (spec baselines.md §4.7): closed-form parameter count, forward/backward, the gyro path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gyrobench.models import build, info
from gyrobench.models.eggnet import GTM


def _conv(i, o, k):
    return k * k * i * o + o


def eggnet_params(width=32, e=2, d=2, m=4):
    """Independent count of the §4.7 table (3x3 convs with bias; 18 = 2*3*3 offset channels)."""
    c = [width * 2**i for i in range(4)]

    def rb(ch):
        return 2 * _conv(ch, ch, 3)

    def igtm(ch):
        return (
            _conv(18, 18, 3)
            + _conv(ch, 18, 3)
            + _conv(36, ch, 3)
            + _conv(ch, 18, 3)
            + _conv(ch, ch, 3)
            + e * rb(ch)
        )

    n = _conv(3, c[0], 3)  # head
    n += _conv(4, 18, 3) + _conv(c[0], c[0], 3) + e * rb(c[0])  # GTM
    n += _conv(c[0], c[1], 3) + igtm(c[1]) + _conv(c[1], c[2], 3) + igtm(c[2])
    n += _conv(c[2], c[3], 3) + m * rb(c[3])  # bottleneck
    for lv in range(3):  # up: transposed 2x2 c[lv+1] -> c[lv], 1x1 fusion of the concatenation, blocks
        n += 4 * c[lv + 1] * c[lv] + c[lv] + _conv(2 * c[lv], c[lv], 1) + d * rb(c[lv])
    return n + _conv(c[0], 3, 3)


def _nparams(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_count_formula():
    assert _nparams(build("eggnet")) == eggnet_params() == 7_200_465
    assert _nparams(build("eggnet", mid_blocks=3)) == eggnet_params(m=3)
    assert _nparams(build("eggnet", width=8, enc_blocks=1, dec_blocks=1, mid_blocks=1)) == eggnet_params(
        8, 1, 1, 1
    )
    # the paper implies about one fifth of DeepGyro (31.03 M): the default stays within 5..8 M
    assert 5e6 < _nparams(build("eggnet")) < 8e6


@pytest.mark.parametrize("hw", [(32, 40), (22, 30)])  # 22x30: padded to 24x32, then cropped back
def test_forward_backward_tiny(hw):
    torch.manual_seed(0)
    model = build("eggnet", width=4, enc_blocks=1, dec_blocks=1, mid_blocks=1, dcn_backend="torch")
    assert model.uses_gyro and info("eggnet").uses_gyro
    h, w = hw
    batch = {"blurred": torch.rand(2, 3, h, w), "cmf_noisy": torch.randn(2, 16, (h + 1) // 2, (w + 1) // 2)}
    out = model(batch)
    assert out.shape == (2, 3, h, w)
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.gtm.mgo.weight.grad.abs().sum() > 0  # offsets learn from the MGVs
    assert model.igtm1.conv_d.weight.grad.abs().sum() > 0  # the zero-initialised IGTM offset conv learns


def test_gtm_with_zero_motion_is_a_plain_conv():
    torch.manual_seed(2)
    gtm = GTM(6, blocks=0, backend="torch")
    feat = torch.randn(1, 6, 12, 14)
    out, mgo = gtm(feat, torch.zeros(1, 4, 12, 14))
    assert mgo.abs().max() == 0  # bias zero-initialised
    ref = F.relu(F.conv2d(feat, gtm.dcn.weight, gtm.dcn.bias, padding=1))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # an integer offset field that shifts every tap one pixel right equals a conv of the left-shifted input
    off = torch.zeros(1, 18, 12, 14)
    off[:, 1::2] = 1.0  # dx = +1 for every tap
    shifted = gtm.dcn(feat, off)
    ref = F.conv2d(F.pad(feat[..., 1:], (0, 1)), gtm.dcn.weight, gtm.dcn.bias, padding=1)
    # (column 0 differs: there the DCN's leftmost tap samples column 0 of the input, the reference its zero pad)
    torch.testing.assert_close(shifted[..., 1:], ref[..., 1:], atol=1e-5, rtol=1e-5)


def test_gyro_input_matters():
    torch.manual_seed(3)
    x = torch.rand(1, 3, 16, 24)
    a = {"blurred": x, "cmf_noisy": torch.zeros(1, 16, 8, 12)}
    b = {"blurred": x, "cmf_noisy": torch.full((1, 16, 8, 12), 0.75)}
    opts = dict(width=4, enc_blocks=1, dec_blocks=1, mid_blocks=1, dcn_backend="torch")
    model = build("eggnet", **opts)
    with torch.no_grad():
        # default: every offset conv zero-initialised -> all DCNs start as plain convs, the gyro has no effect yet
        assert (model(a) - model(b)).abs().max() == 0
        for conv in (model.gtm.mgo, model.igtm1.conv_d, model.igtm2.conv_d):  # as after some training
            conv.weight.normal_(0, 0.05)
        assert (model(a) - model(b)).abs().max() > 1e-6
    model = build(
        "eggnet", gtm_zero_init=False, **opts
    )  # the table's literal reading: the GTM steers at once
    with torch.no_grad():
        assert (model(a) - model(b)).abs().max() > 1e-6
    mgv = model.gyro_input(b, (16, 24))
    torch.testing.assert_close(mgv[0, :, 5, 7], torch.tensor([-3.0, -3.0, 3.0, 3.0]))
    # the clean/noisy mix follows alpha
    mixed = model.gyro_input(
        {"cmf_noisy": b["cmf_noisy"], "cmf_clean": a["cmf_noisy"], "alpha": 0.5}, (16, 24)
    )
    torch.testing.assert_close(mixed, mgv / 2)


@pytest.mark.parametrize("cfg", ["train.yaml", "train_paper_recipe.yaml"])
def test_baseline_configs_load_and_build(repo_root, cfg):
    from gyrobench.train.config import load_train_config

    conf = load_train_config(repo_root / "baselines" / "eggnet" / cfg)
    assert conf.model.name == "eggnet"
    assert _nparams(build(conf.model.name, **conf.model.options)) == 7_200_465  # baselines/eggnet/README.md
