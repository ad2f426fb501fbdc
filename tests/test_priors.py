"""Gyro priors (:mod:`gyrobench.models.priors`, issue 24 item 1): typed options, and a network with a prior starts
from the prior's estimate, computed independently here with the tiled filter of :mod:`gyrobench.models.deconv`."""

from __future__ import annotations

import math

import pytest
import torch

from gyrobench.errors import RecipeError
from gyrobench.models import build
from gyrobench.models.deconv import deconvolve
from gyrobench.models.priors import WienerPriorConfig, legacy_prior, parse_prior
from gyrobench.models.registry import check_options

SMALL = dict(width=8, enc_blk_nums=(1, 1, 1), middle_blk_num=2, gdb_num=1)


def _batch(b=2, h=36, w=44, seed=0, M=8):
    g = torch.Generator().manual_seed(seed)
    noisy = torch.randn(b, 2 * M, -(-h // 8) * 4, -(-w // 8) * 4, generator=g) * 2.0
    return {"blurred": torch.rand(b, 3, h, w, generator=g), "cmf_noisy": noisy, "cmf_clean": noisy * 0.5}


def _zero_ending(model):
    torch.nn.init.zeros_(model.ending.weight)
    torch.nn.init.zeros_(model.ending.bias)
    return model


def test_prior_options_are_typed_and_checked_when_read():
    assert parse_prior({"kind": "wiener", "lam": 0.03}) == WienerPriorConfig(lam=0.03)
    assert parse_prior(None) is None and parse_prior({}) == WienerPriorConfig()
    with pytest.raises(RecipeError, match=r"did you mean 'lam'"):
        check_options("gyrodeblurnet", {"prior": {"kind": "wiener", "lamb": 0.03}}, source="s.yaml")
    with pytest.raises(RecipeError, match="s.yaml.*prior.kind"):
        check_options("gyrodeblurnet", {"prior": {"kind": "tv"}}, source="s.yaml")
    with pytest.raises(RecipeError, match="expected true/false"):
        check_options("gyrodeblurnet", {"prior": {"check": "yes"}}, source="s.yaml")
    for bad in ({"lam": 0.0}, {"tile": 8}):
        with pytest.raises(RecipeError, match="lam > 0 and tile >= 16"):
            parse_prior(bad)
    with pytest.raises(RecipeError, match="use_gyro"):
        build("gyrodeblurnet", **SMALL, use_gyro=False, prior={"kind": "wiener"})


def test_wiener_prior_starts_from_the_classical_estimate_and_uses_the_field():
    """With the output conv zeroed the network returns exactly the tiled Wiener deconvolution with the batch's
    α-mixed field (docs/conventions.md §3, mixed here by hand), so another sample's field changes the output; intro
    takes 3 more channels and the paper's network keeps 3."""
    torch.manual_seed(0)
    model = _zero_ending(build("gyrodeblurnet", **SMALL, prior={"kind": "wiener", "lam": 0.03, "tile": 32}).eval())
    assert model.intro.in_channels == 6 and build("gyrodeblurnet", **SMALL).intro.in_channels == 3
    batch = _batch(seed=4)
    batch["alpha"] = torch.tensor([0.25, 1.0])
    a = batch["alpha"].reshape(2, 1, 1, 1)
    mixed = a * batch["cmf_noisy"] + (1 - a) * batch["cmf_clean"]
    with torch.no_grad():
        out = model(batch)
        torch.testing.assert_close(out, deconvolve(batch["blurred"], mixed, lam=0.03, tile=32))
        other = dict(batch, cmf_noisy=batch["cmf_noisy"].flip(0), cmf_clean=batch["cmf_clean"].flip(0))
        assert (model(other) - out).abs().max() > 0.05


def test_wiener_gate_blends_input_and_estimate_by_the_trust_map():
    """``gate``: with the output conv and the gate's weights zeroed, the output is x + sigmoid(b)·(wiener − x) for
    the gate bias b (closed-form sigmoid), so b = +30 gives the estimate and b = −30 the blurred input."""
    torch.manual_seed(0)
    model = _zero_ending(build("gyrodeblurnet", **SMALL, prior={"lam": 0.03, "tile": 32, "gate": True}).eval())
    assert sum(p.numel() for p in model.prior.parameters()) == 8 * 9 + 1
    batch = _batch(seed=5)
    x = batch["blurred"]
    with torch.no_grad():
        wien = deconvolve(x, batch["cmf_noisy"], lam=0.03, tile=32)
        assert (wien - x).abs().max() > 0.05
        for b in (30.0, -30.0, 0.7):
            torch.nn.init.constant_(model.prior.gate.bias, b)
            g = 1.0 / (1.0 + math.exp(-b))
            torch.testing.assert_close(model(batch), x + g * (wien - x))


def test_wiener_residual_feeds_the_reblur_residual_to_intro():
    """``residual``: intro takes 3 + 3 + 3 channels, and its last three see exactly the filter's re-blur residual."""
    model = build("gyrodeblurnet", **SMALL, prior={"lam": 0.03, "tile": 32, "residual": True}).eval()
    assert model.intro.in_channels == 9
    batch = _batch(h=32, w=40, seed=6)
    batch.pop("cmf_clean")
    seen = {}
    model.intro.register_forward_hook(lambda m, a, o: seen.update(x=a[0]))  # returns None: output unchanged
    with torch.no_grad():
        model(batch)
        _, res = deconvolve(batch["blurred"], batch["cmf_noisy"], lam=0.03, tile=32, residual=True)
    torch.testing.assert_close(seen["x"][:, 6:9, :32, :40], res)
    assert res.abs().max() > 0.01


def test_wiener_check_starts_from_the_checked_estimate():
    """``check``: the network starts from ``deconvolve(..., check=True)``, which differs from the unchecked estimate
    for random fields (not the images' own)."""
    torch.manual_seed(0)
    model = _zero_ending(build("gyrodeblurnet", **SMALL, prior={"lam": 0.03, "tile": 32, "check": True}).eval())
    batch = _batch(seed=4)
    batch.pop("cmf_clean")
    with torch.no_grad():
        out = model(batch)
        torch.testing.assert_close(out, deconvolve(batch["blurred"], batch["cmf_noisy"], lam=0.03, tile=32,
                                                   check=True))
        assert (out - deconvolve(batch["blurred"], batch["cmf_noisy"], lam=0.03, tile=32)).abs().max() > 0.01


def test_the_old_flat_spelling_builds_the_same_network():
    """The checkpoints of 2026-12-03 to 12-07 name the prior ``wiener_input: true`` with ``wiener_*`` options: they
    build the same module (same keys and shapes, the same output for the same weights; the old gate key
    ``wiener_gate.*`` loads as ``prior.gate.*``) and record today's spelling."""
    old = {"wiener_input": True, "wiener_lam": 0.03, "wiener_tile": 32, "wiener_gate": True, "wiener_check": True}
    assert legacy_prior(old, model="m") == {"prior": {"kind": "wiener", "lam": 0.03, "tile": 32, "gate": True,
                                                      "check": True}}
    assert legacy_prior({"wiener_input": False, "wiener_lam": 0.1}, model="m") == {}
    torch.manual_seed(1)
    a = build("gyrodeblurnet", **SMALL, **old).eval()
    assert a.options == {**SMALL, "prior": {"kind": "wiener", "lam": 0.03, "tile": 32, "gate": True, "check": True}}
    b = build("gyrodeblurnet", **SMALL, prior={"lam": 0.03, "tile": 32, "gate": True, "check": True}).eval()
    with torch.no_grad():
        for p in a.parameters():
            p.normal_(0, 0.05)
    legacy_state = {k.replace("prior.gate.", "wiener_gate."): v for k, v in a.state_dict().items()}
    assert "wiener_gate.weight" in legacy_state
    b.load_state_dict(legacy_state, strict=True)
    batch = _batch(seed=7)
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))
    for opt in ("wiener_gate", "wiener_residual", "wiener_check"):
        with pytest.raises(RecipeError, match="wiener_input"):
            build("gyrodeblurnet", **{opt: True})
    with pytest.raises(RecipeError, match="both 'prior' and its old spelling"):
        build("gyrodeblurnet", wiener_input=True, prior={"kind": "wiener"})


def test_a_prior_config_is_recorded_as_a_plain_mapping():
    """Checkpoints load with ``weights_only=True``: a prior given as its dataclass is recorded as a mapping."""
    model = build("gyrodeblurnet", **SMALL, prior=WienerPriorConfig(lam=0.03, tile=32))
    assert model.options["prior"] == {"kind": "wiener", "lam": 0.03, "tile": 32, "check": False, "residual": False,
                                      "gate": False}
