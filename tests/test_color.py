"""sRGB transfer and A7R3 CRF (rsblur.md §3.1, B12): closed forms and published figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gyrobench.color import a7r3_crf, linear_to_srgb, srgb_to_linear


def _decode_ref(v: float) -> float:  # IEC 61966-2-1, written out independently
    a = abs(v)
    out = a / 12.92 if a < 0.04045 else ((a + 0.055) / 1.055) ** 2.4
    return float(np.copysign(out, v))


def _encode_ref(v: float) -> float:
    a = abs(v)
    out = 12.92 * a if a < 0.0031308 else 1.055 * a ** (1 / 2.4) - 0.055
    return float(np.copysign(out, v))


@pytest.mark.parametrize("v", [0.0, 0.01, 0.04045, 0.0404499, 0.2, 0.5, 0.735, 1.0, -0.3, -0.02])
def test_decode_matches_closed_form(v):
    assert float(srgb_to_linear(np.float64(v))) == pytest.approx(_decode_ref(v), abs=1e-15)
    assert float(srgb_to_linear(torch.tensor(v, dtype=torch.float64))) == pytest.approx(
        _decode_ref(v), abs=1e-15
    )


@pytest.mark.parametrize("v", [0.0, 0.001, 0.0031308, 0.0031307, 0.2140411404, 0.5, 1.0, -0.25])
def test_encode_matches_closed_form(v):
    assert float(linear_to_srgb(np.float64(v))) == pytest.approx(_encode_ref(v), abs=1e-15)
    assert float(linear_to_srgb(torch.tensor(v, dtype=torch.float64))) == pytest.approx(
        _encode_ref(v), abs=1e-15
    )


def test_known_values_and_white():
    assert float(srgb_to_linear(0.5)) == pytest.approx(0.21404114, abs=1e-8)
    assert float(srgb_to_linear(np.float32(1.0))) == 1.0  # white stays exactly white (saturation threshold)
    assert float(linear_to_srgb(np.float32(1.0))) == pytest.approx(1.0, abs=1e-7)


def test_round_trip_float32_numpy_and_torch():
    x = np.linspace(-1, 1, 20001, dtype=np.float32)
    assert srgb_to_linear(x).dtype == np.float32
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=2e-6)
    t = torch.from_numpy(x)
    back = linear_to_srgb(srgb_to_linear(t))
    assert back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), x, atol=2e-6)
    np.testing.assert_allclose(srgb_to_linear(t).numpy(), srgb_to_linear(x), atol=1e-7)


def test_sign_symmetry():
    x = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(srgb_to_linear(-x), -srgb_to_linear(x))
    np.testing.assert_array_equal(linear_to_srgb(-x), -linear_to_srgb(x))


def test_a7r3_crf_published_figures():
    # rsblur.md B12: linear 0.1 -> about 0.53; P7(1) = 1.022 clipped to 1; y(0) = -0.0095 clipped to 0;
    # §9: sRGB levels 0.10/0.25/0.50/0.90 map to 0.0733/0.3340/0.7586/0.9821 through P7(g^-1(.)).
    assert float(a7r3_crf(0.1)) == pytest.approx(0.53, abs=0.01)
    assert float(a7r3_crf(1.0)) == 1.0
    assert float(a7r3_crf(0.0)) == 0.0
    ref = [0.0733, 0.3340, 0.7586, 0.9821]
    got = a7r3_crf(srgb_to_linear(np.array([0.10, 0.25, 0.50, 0.90])))
    np.testing.assert_allclose(got, ref, atol=6e-5)
    t = a7r3_crf(torch.tensor([0.01, 0.5], dtype=torch.float32))
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), a7r3_crf(np.array([0.01, 0.5])), atol=1e-5)


def test_a7r3_crf_not_monotone_top():
    # B12: falls from 0.9830 to 0.9824 over linear 0.830 to 0.887 and reaches 1 at 0.974
    assert float(a7r3_crf(0.830)) == pytest.approx(0.9830, abs=2e-4)
    assert float(a7r3_crf(0.887)) == pytest.approx(0.9824, abs=2e-4)
    assert float(a7r3_crf(0.98)) == 1.0


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1.0, max_value=1.0, allow_nan=False))
def test_round_trip_property(v):
    # the IEC constants leave a ~2e-9 gap between the two pieces at the break points (0.0031308 / 0.04045)
    assert float(srgb_to_linear(linear_to_srgb(np.float64(v)))) == pytest.approx(v, abs=1e-8)
    assert float(linear_to_srgb(srgb_to_linear(np.float64(v)))) == pytest.approx(v, abs=1e-8)
