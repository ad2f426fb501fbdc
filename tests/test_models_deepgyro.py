"""DeepGyro (spec baselines.md §3): parameter count from a closed-form formula, keys, forward/backward, gyro use."""

from __future__ import annotations

import pytest
import torch

from gyrobench.errors import GyrobenchError, ShapeError
from gyrobench.models import build, info


def _conv(i, o, k):
    return k * k * i * o + o


def deepgyro_params(width=64, cin=5):
    """Independent count of the §3.3 table: 5 encoder stages of 2 convs, 4 decoder levels, 1x1 output."""
    c = [width * 2**i for i in range(5)]
    n = _conv(cin, c[0], 3) + _conv(c[0], c[0], 3)
    for lv in range(1, 5):
        n += _conv(c[lv - 1], c[lv], 3) + _conv(c[lv], c[lv], 3)
    for lv in range(4):  # transposed 2x2 conv c[lv+1] -> c[lv], then two convs on the concatenation
        n += 4 * c[lv + 1] * c[lv] + c[lv] + _conv(2 * c[lv], c[lv], 3) + _conv(c[lv], c[lv], 3)
    return n + _conv(c[0], 3, 1)


def _nparams(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_match_spec_and_formula():
    assert deepgyro_params() == 31_033_027  # baselines.md §3.3 [C]
    assert deepgyro_params(cin=3) == 31_031_875
    assert _nparams(build("deepgyro")) == 31_033_027
    assert _nparams(build("deepgyro", blind=True)) == 31_031_875
    assert _nparams(build("deepgyro", width=8)) == deepgyro_params(8)


def test_state_dict_keys():
    keys = set(build("deepgyro", width=4).state_dict())
    expected = {f"enc{i}.{j}.{p}" for i in range(1, 6) for j in (0, 1) for p in ("weight", "bias")}
    expected |= {f"dec{i}.{j}.{p}" for i in range(1, 5) for j in (0, 1) for p in ("weight", "bias")}
    expected |= {f"up{i}.{p}" for i in range(1, 5) for p in ("weight", "bias")} | {"out.weight", "out.bias"}
    assert keys == expected and len(keys) == 46  # 23 weighted layers (§3.6)


@pytest.mark.parametrize("hw", [(32, 48), (21, 35)])  # any size works: valid pooling + bottom/right zero pad
def test_forward_backward_tiny(hw):
    torch.manual_seed(0)
    model = build("deepgyro", width=4)
    assert model.uses_gyro and info("deepgyro").uses_gyro
    h, w = hw
    batch = {
        "blurred": torch.rand(2, 3, h, w),
        "cmf_noisy": torch.randn(2, 16, (h + 1) // 2, (w + 1) // 2) * 3,
    }
    out = model(batch)
    assert out.shape == (2, 3, h, w)
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.enc1[0].weight.grad[:, 3:].abs().sum() > 0  # the blur channels reach the loss


def test_gyro_input_matters_and_encoding():
    torch.manual_seed(1)
    model = build("deepgyro", width=4)
    x = torch.rand(1, 3, 16, 16)
    zero = {"blurred": x, "cmf_noisy": torch.zeros(1, 16, 8, 8)}
    moved = {"blurred": x, "cmf_noisy": torch.full((1, 16, 8, 8), 2.0)}  # 16 px blur, b_y > 0 -> negated
    enc = model.gyro_input(zero, (16, 16))
    assert torch.allclose(enc, torch.full_like(enc, 128 / 255))
    assert torch.allclose(model.gyro_input(moved, (16, 16)), torch.full_like(enc, 112 / 255))
    with torch.no_grad():
        assert (model(zero) - model(moved)).abs().max() > 1e-6
    blind = build("deepgyro", width=4, blind=True)
    assert not blind.uses_gyro
    assert blind({"blurred": x}).shape == (1, 3, 16, 16)  # DeepBlind needs no field


def test_missing_or_bad_field_errors():
    with pytest.raises(GyrobenchError, match="encode"):
        build("deepgyro", width=4, encode="png")
    with pytest.raises(GyrobenchError, match="bad options"):
        build("deepgyro", widht=4)
    model = build("deepgyro", width=4)
    with pytest.raises(ShapeError, match="cmf_noisy"):
        model({"blurred": torch.rand(1, 3, 16, 16)})
    with pytest.raises(ShapeError, match="too small"):
        model({"blurred": torch.rand(1, 3, 16, 16), "cmf_noisy": torch.zeros(1, 16, 4, 4)})


@pytest.mark.parametrize("cfg", ["train.yaml", "train_deepgyro_recipe.yaml"])
def test_baseline_configs_load_and_build(repo_root, cfg):
    from gyrobench.train.config import load_train_config

    conf = load_train_config(repo_root / "baselines" / "deepgyro" / cfg)
    assert conf.model.name == "deepgyro"
    model = build(conf.model.name, **conf.model.options)
    assert _nparams(model) == 31_033_027  # the number printed in baselines/deepgyro/README.md
