"""Analytic complexity: MAC rules on single layers, NAFNet closed form, GyroDeblurNet vs the spec's ~287 GMAC,
and the ``gyrobench models`` command."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from gyrobench.cli import main
from gyrobench.models import available, dcn
from gyrobench.models.complexity import count_macs, count_params, model_complexity


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.down = nn.Conv2d(8, 4, 2, stride=2)
        self.fc = nn.Linear(4, 6)
        self.dcn = dcn.DeformableConv2d(4, 5, guide_channels=4)

    def forward(self, batch):
        x = self.down(self.dw(self.conv(batch["blurred"])))  # (B, 4, H/2, W/2)
        y = self.dcn(x)
        return self.fc(x.permute(0, 2, 3, 1)), y


def test_mac_rules_on_single_layers():
    with torch.device("meta"):
        m = _Tiny()
    h, w = 10, 12
    total, dcn_macs = count_macs(m, {"blurred": torch.empty(2, 3, h, w, device="meta")})
    px, px2 = 2 * h * w, 2 * (h // 2) * (w // 2)
    expect_dcn = px2 * 5 * 4 * 9
    expect = (
        px * 8 * 3 * 9
        + px * 8 * 1 * 9
        + px2 * 4 * 8 * 4
        + px2 * 6 * 4
        + px2 * 18 * 4 * 9
        + px2 * 9 * 4 * 9
        + expect_dcn
    )  # conv, dw, down, fc, offset, modulator, DCN
    assert dcn_macs == expect_dcn
    assert total == expect
    assert count_params(m) == sum(p.numel() for p in m.parameters())


def _nafnet_macs(width, enc, middle, dec, h, w):
    """Closed form: NAFBlock(c) costs (c·2c + 2c·9 + c·c + 2c·c + c·c) per pixel + c² once (SCA on the 1×1 map)."""
    blk = lambda c, n: n * (6 * c * c + 18 * c) + c * c  # noqa: E731
    total = h * w * (3 * width * 9 + width * 3 * 9)
    c, hh, ww = width, h, w
    for n in enc:
        total += sum(blk(c, hh * ww) for _ in range(n)) + (hh // 2) * (ww // 2) * 2 * c * c * 4
        c, hh, ww = 2 * c, hh // 2, ww // 2
    total += sum(blk(c, hh * ww) for _ in range(middle))
    for n in dec:
        total += hh * ww * c * 2 * c
        c, hh, ww = c // 2, hh * 2, ww * 2
        total += sum(blk(c, hh * ww) for _ in range(n))
    return total


@pytest.mark.parametrize("width", [32, 64])
def test_nafnet_gmacs_closed_form(width):
    row = model_complexity("nafnet", {"width": width})
    assert row.params == {32: 17_111_907, 64: 67_888_835}[width]
    assert row.gmacs == pytest.approx(
        _nafnet_macs(width, [1, 1, 1, 28], 1, [1, 1, 1, 1], 720, 1280) / 1e9, rel=1e-12
    )


def test_gyrodeblurnet_gmacs_match_spec():
    """Spec §5.4: ~287 GMAC at 720p incl. ~25.5 GMAC of deformable convs. The official forward applies intro_gyro
    to both field slots; at α = 1 gyrobench applies it once, saving 360·640·64·16·9 MACs (2.12 GMAC)."""
    row = model_complexity("gyrodeblurnet")
    assert row.params == 16_311_296
    assert row.dcn_gmacs == pytest.approx(3 * 90 * 160 * 256 * 256 * 9 / 1e9)  # 25.48
    second_intro_gyro = 360 * 640 * 64 * 16 * 9 / 1e9
    assert row.gmacs + second_intro_gyro == pytest.approx(287, abs=0.5)


def test_models_command_lists_every_model(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {r["name"] for r in rows}
    assert {"gyrodeblurnet", "nafnet"} <= names
    gdn = next(r for r in rows if r["name"] == "gyrodeblurnet")
    assert gdn["uses_gyro"] is True and gdn["params"] == 16_311_296
    assert any(r["name"] == "nafnet" and r["options"] == {"width": 64} for r in rows)
    assert main(["models", "gyrodeblurnet", "--size", "640x360"]) == 0
    out = capsys.readouterr().out
    assert "gyrodeblurnet" in out and "16,311,296" in out and "GMACs@640x360" in out


def test_models_command_errors(capsys):
    assert main(["models", "nosuchmodel"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["models", "--size", "720p"]) == 2  # argparse's error, returned as the exit status
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(n for n, m in available().items() if m.learned))
def test_every_learned_model_honours_the_batch_contract(name):
    """docs/conventions.md §2: build(name) -> module with name/options/uses_gyro; model(batch) -> (B,3,H,W); trainable."""
    from gyrobench.models import build

    model = build(name)
    assert model.name == name and model.options == {} and isinstance(model.uses_gyro, bool)
    g = torch.Generator().manual_seed(0)
    cmf = torch.randn(2, 16, 16, 24, generator=g)
    batch = {
        "blurred": torch.rand(2, 3, 32, 48, generator=g),
        "cmf_clean": cmf,
        "cmf_noisy": cmf,
        "alpha": 1.0,
    }
    out = model(batch)
    assert out.shape == (2, 3, 32, 48)
    out.mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
