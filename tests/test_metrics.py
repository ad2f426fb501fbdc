"""PSNR/SSIM under each protocol against scikit-image (an independent implementation), protocol encodings
against hand computations, registry metadata."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gyrobench.errors import GyrobenchError, ShapeError
from gyrobench.metrics import PROTOCOLS, create_metric, get_protocol, list_metrics


def _srgb_np(x):
    """IEC 61966-2-1 encoding written independently in numpy."""
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def _to_uint8(lin: np.ndarray, protocol: str) -> np.ndarray:
    """Reference encoding (HWC float64 linear -> uint8 HWC), written from docs/conventions.md §7."""
    if protocol == "gyrodeblurnet_official":
        # test.py: clamp(0,1)*255 then ByteTensor cast (truncation); values are computed in float32 there
        return (np.clip(lin.astype(np.float32), 0, 1) * np.float32(255)).astype(np.uint8)
    return np.round(_srgb_np(lin) * 255).astype(np.uint8)


def _pair(seed, h=37, w=45, n=3):
    rng = np.random.default_rng(seed)
    gt = rng.random((n, h, w, 3))
    gt[:, : h // 2] = gt[:, : h // 2] ** 2.2  # a darker half (exercises the sRGB toe)
    pred = np.clip(gt + rng.normal(0, 0.05, gt.shape), -0.1, 1.1)  # include out-of-range values
    return pred, gt


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))).float()


@pytest.mark.parametrize("protocol", ["gyrodeblurnet_official", "srgb8"])
def test_psnr_ssim_equal_skimage(protocol):
    pred, gt = _pair(0)
    psnr = create_metric("psnr", protocol=protocol)
    ssim = create_metric("ssim", protocol=protocol)
    got_p = psnr(_t(pred), _t(gt)).numpy()
    got_s = ssim(_t(pred), _t(gt)).numpy()
    # the float32 tensors the metric sees
    pred32 = _t(pred).numpy().transpose(0, 2, 3, 1).astype(np.float64)
    gt32 = _t(gt).numpy().transpose(0, 2, 3, 1).astype(np.float64)
    for i in range(len(pred)):
        a, b = _to_uint8(pred32[i], protocol), _to_uint8(gt32[i], protocol)
        assert got_p[i] == pytest.approx(peak_signal_noise_ratio(b, a), abs=1e-6)
        assert got_s[i] == pytest.approx(structural_similarity(b, a, channel_axis=2), abs=1e-6)


def test_official_truncates_and_srgb8_rounds():
    x = torch.tensor([0.0, 0.49 / 255, 0.51 / 255, 1.0 / 255, 254.7 / 255, 1.2]).reshape(1, 1, 1, 6)
    off = get_protocol("gyrodeblurnet_official").encode_fr(x).flatten().tolist()
    assert off == [0, 0, 0, 1, 254, 255]  # truncation; exact k/255 in float32 stays k
    disp = get_protocol("display8").encode_fr(x).flatten().tolist()
    assert disp == [0, 0, 1, 1, 255, 255]
    # srgb8: linear 0.5 -> sRGB 0.7353569 -> 187.5 -> 188 (round)
    s = get_protocol("srgb8").encode_fr(torch.tensor([0.5, 0.0031308]).reshape(1, 1, 1, 2)).flatten().tolist()
    assert s == [round(_srgb_np(0.5) * 255), round(0.0031308 * 12.92 * 255)]


def test_uint8_stored_values_survive_truncation():
    k = np.arange(256, dtype=np.float32)
    x = torch.from_numpy(k / np.float32(255)).reshape(1, 1, 16, 16)
    assert torch.equal(get_protocol("gyrodeblurnet_official").encode_fr(x).flatten(),
                       torch.from_numpy(k.astype(np.float64)))


def test_truncation_costs_about_a_third_lsb_squared():
    # spec §6.2: for a uniform fractional part, truncation adds ~1/3 LSB^2 of MSE vs 1/12 for rounding
    rng = np.random.default_rng(1)
    gt = (rng.integers(0, 255, (1, 3, 64, 64)) / 255.0).astype(np.float32)
    pred = gt + (rng.random(gt.shape) / 255.0).astype(np.float32) * 0.999
    a, b = torch.from_numpy(pred), torch.from_numpy(gt)
    p_trunc = float(create_metric("psnr", protocol="gyrodeblurnet_official")(a, b))
    p_round = float(create_metric("psnr", protocol="display8")(a, b))
    mse_round = 255**2 / 10 ** (p_round / 10)
    assert mse_round == pytest.approx(0.5, abs=0.02)  # half the pixels round up by one
    assert p_trunc == np.inf  # every fractional part < 1 truncates back to the stored value


def test_identical_images_and_bounds():
    x = torch.rand(2, 3, 16, 16)
    assert torch.isinf(create_metric("psnr")(x, x)).all()
    assert torch.allclose(create_metric("ssim")(x, x), torch.ones(2, dtype=torch.float64))


def test_registry_metadata():
    names = list_metrics()
    assert {"psnr", "ssim", "niqe", "topiq_nr"} <= set(names)
    expect = {"psnr": (False, True), "ssim": (False, True), "niqe": (True, False), "topiq_nr": (False, False)}
    for name, (lower, fr) in expect.items():
        m = create_metric(name, input_space="linear")
        assert (m.lower_better, m.full_reference) == (lower, fr)
        assert m.citation and m.name == name
    assert set(PROTOCOLS) >= {"gyrodeblurnet_official", "srgb8"}


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(GyrobenchError, match="unknown metric 'psnrr'"):
        create_metric("psnrr")
    with pytest.raises(GyrobenchError, match="unknown protocol"):
        create_metric("psnr", protocol="nope")
    with pytest.raises(ShapeError, match=r"\(2, 16, 16, 3\)"):
        create_metric("psnr")(torch.rand(2, 16, 16, 3), torch.rand(2, 16, 16, 3))
    with pytest.raises(ShapeError, match="differ"):
        create_metric("psnr")(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(GyrobenchError, match="full-reference"):
        create_metric("ssim")(torch.rand(1, 3, 8, 8))
    with pytest.raises(ShapeError, match="7x7"):
        create_metric("ssim")(torch.rand(1, 3, 5, 8), torch.rand(1, 3, 5, 8))


def test_no_reference_metrics_need_an_explicit_colour_space():
    """create_metric('niqe') must not silently treat display-encoded photos as linear light (or vice versa)."""
    for name in ("niqe", "topiq_nr"):
        with pytest.raises(GyrobenchError, match="input_space='display'"):
            create_metric(name)
    with pytest.raises(GyrobenchError, match="expects linear input"):
        create_metric("niqe", protocol="srgb8", input_space="display")
    with pytest.raises(GyrobenchError, match="input_space='sRGB'"):
        create_metric("niqe", input_space="sRGB")
    assert create_metric("niqe", input_space="display").protocol.name == "display8"
    assert create_metric("niqe", input_space="linear").protocol.nr_transfer == "srgb"
    assert create_metric("niqe", protocol="display8").input_space == "display"
    assert create_metric("psnr").protocol.name == "gyrodeblurnet_official"  # full-reference default unchanged


def test_niqe_colour_space_changes_the_score():
    """The same display-encoded photo scored as display (pyiqa's convention) and, wrongly, as linear light."""
    import cv2

    from gyrobench.assets import kodak_paths
    from gyrobench.color import srgb_to_linear

    img = cv2.imread(str(kodak_paths()[0]))[:192, :192, ::-1].astype(np.float64) / 255
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
    disp = float(create_metric("niqe", input_space="display")(x)[0])
    as_linear = float(create_metric("niqe", input_space="linear")(x)[0])  # double-encoded: the silent mistake
    decoded = float(create_metric("niqe", input_space="linear")(srgb_to_linear(x))[0])
    assert abs(decoded - disp) < 0.02  # decode then re-encode: the same 8-bit image up to rounding
    assert abs(as_linear - disp) > 0.05  # treating display values as linear moves NIQE
