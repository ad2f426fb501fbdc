"""NAFNet: official keys/shapes, parameter counts from the architecture formula, TLC pooling, padding, training step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gyrobench.models import build
from gyrobench.models.nafnet import LayerNorm2d, LocalAvgPool2d, NAFBlock, tlc_kernel_sizes


def _nafnet_params(width, enc, middle, dec):
    """Independent count from baselines.md §2.3: NAFBlock(c) = 7c² + 33c; convs with bias except ups."""
    block = lambda c: 7 * c * c + 33 * c  # noqa: E731
    total = (3 * 9 * width + width) + (width * 9 * 3 + 3)  # intro, ending
    c = width
    for n in enc:
        total += n * block(c) + (c * 2 * c * 4 + 2 * c)  # blocks + 2×2 stride-2 down conv
        c *= 2
    total += middle * block(c)
    for n in dec:
        total += c * 2 * c  # 1×1 up conv, no bias
        c //= 2
        total += n * block(c)
    return total


@pytest.mark.parametrize("width,expected", [(32, 17_111_907), (64, 67_888_835)])
def test_param_counts_match_formula_and_spec(width, expected):
    assert (
        _nafnet_params(width, [1, 1, 1, 28], 1, [1, 1, 1, 1]) == expected
    )  # the formula reproduces the spec
    with torch.device("meta"):
        model = build("nafnet", width=width)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("width", [32, 64])
def test_state_dict_equals_official_key_file(official_keys, width):
    keys = official_keys(f"nafnet-official-keys-width{width}.txt")
    assert len(keys) == 664
    with torch.device("meta"):
        model = build("nafnet", width=width, tlc=True)  # TLC has the same keys
    sd = model.state_dict()
    assert list(sd) == [k for k, _ in keys]  # same names, same order
    assert {k: tuple(v.shape) for k, v in sd.items()} == dict(keys)


def test_layernorm2d_matches_formula():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    ln = LayerNorm2d(5).double()
    with torch.no_grad():
        ln.weight.copy_(torch.arange(1.0, 6.0))
        ln.bias.copy_(torch.arange(5.0) / 10)
    mu = x.mean(1, keepdim=True)
    var = ((x - mu) ** 2).mean(1, keepdim=True)  # biased
    ref = (x - mu) / torch.sqrt(var + 1e-6) * ln.weight.view(1, -1, 1, 1) + ln.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(ln(x), ref)


def test_nafblock_is_identity_at_init_and_has_7c2_33c_params():
    blk = NAFBlock(12)
    assert sum(p.numel() for p in blk.parameters()) == 7 * 144 + 33 * 12
    x = torch.randn(1, 12, 5, 5)
    torch.testing.assert_close(blk(x), x)


def test_tlc_kernel_sizes_follow_spec():
    assert tlc_kernel_sizes(4) == [384, 192, 96, 48, 24]


@pytest.mark.parametrize("h,w,k", [(7, 9, 4), (6, 5, 3), (5, 8, 8), (4, 4, 5)])
def test_local_avg_pool_matches_direct_box_mean(h, w, k):
    x = torch.randn(1, 2, h, w, dtype=torch.float64)
    out = LocalAvgPool2d((k, k))(x)
    xn = x.numpy()
    if k >= h and k >= w:
        ref = xn.mean(axis=(2, 3), keepdims=True)
    else:
        k1, k2 = min(h, k), min(w, k)
        nh, nw = h - k1 + 1, w - k2 + 1
        ref = np.empty_like(xn)
        for i in range(h):
            si = min(max(i - (h - nh) // 2, 0), nh - 1)  # replicate padding: clamp the window start
            for j in range(w):
                sj = min(max(j - (w - nw) // 2, 0), nw - 1)
                ref[:, :, i, j] = xn[:, :, si : si + k1, sj : sj + k2].mean(axis=(2, 3))
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(ref, out.shape), atol=1e-12)


def _randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def test_tlc_changes_output_only_when_kernel_is_smaller_than_the_map():
    cfg = dict(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1], train_size=16)
    plain = _randomize(build("nafnet", tlc=False, **cfg))
    tlc = build("nafnet", tlc=True, **cfg)
    tlc.load_state_dict(plain.state_dict())
    small = torch.rand(1, 3, 20, 20)  # kernel 24 at level 0 covers 20×20: global pooling everywhere
    torch.testing.assert_close(tlc(small), plain(small))
    big = torch.rand(1, 3, 64, 48)
    assert (tlc(big) - plain(big)).abs().max() > 1e-6


def test_padding_to_16_and_crop():
    model = _randomize(build("nafnet", width=8, enc_blk_nums=[1, 1, 1, 1], dec_blk_nums=[1, 1, 1, 1])).eval()
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        y = model({"blurred": x})
        y_pad = model(F.pad(x, (0, 14, 0, 11)))  # 48×64, already a multiple of 16
    assert y.shape == x.shape
    torch.testing.assert_close(y, y_pad[..., :37, :50])


def test_forward_backward_default_config_ignores_gyro():
    model = build("nafnet")
    assert model.uses_gyro is False and model.name == "nafnet" and model.options == {}
    x = torch.rand(2, 3, 32, 32)
    batch = {"blurred": x, "cmf_clean": torch.randn(2, 16, 16, 16), "alpha": 0.5}
    out = model(batch)
    assert out.shape == (2, 3, 32, 32)
    torch.testing.assert_close(out, model({"blurred": x}))  # gyro keys are ignored
    loss = (out - torch.rand_like(out)).pow(2).mean()
    loss.backward()
    assert model.ending.weight.grad is not None and model.ending.weight.grad.abs().sum() > 0


def test_bad_input_raises_shape_error():
    from gyrobench.errors import ShapeError

    model = build("nafnet", width=8, enc_blk_nums=[1], dec_blk_nums=[1])
    with pytest.raises(ShapeError, match="blurred"):
        model({"sharp": torch.rand(1, 3, 8, 8)})
    with pytest.raises(ShapeError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(1, 1, 8, 8))
