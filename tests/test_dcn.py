"""Modulated deformable convolution: pure path vs an independent per-output-pixel reference, conv identities,
and torchvision (marked ``iqa``: runs where torchvision is installed)."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
import torch.nn.functional as F

from gyrobench.errors import ShapeError
from gyrobench.models import dcn
from gyrobench.models.dcn import DeformableConv2d, deform_conv2d_pure, modulated_deform_conv2d


def _bilinear(img, y, x):
    """Direct bilinear read of img (C, H, W) at scalar (y, x), zeros outside; each corner checked separately."""
    C, H, W = img.shape
    out = img.new_zeros(C)
    y0, x0 = (
        math.floor(float(y.detach() if torch.is_tensor(y) else y)),
        math.floor(float(x.detach() if torch.is_tensor(x) else x)),
    )
    ly, lx = y - y0, x - x0
    for dy, wy in ((0, 1 - ly), (1, ly)):
        for dx, wx in ((0, 1 - lx), (1, lx)):
            yy, xx = y0 + dy, x0 + dx
            if 0 <= yy < H and 0 <= xx < W:
                out = out + wy * wx * img[:, yy, xx]
    return out


def reference_deform_conv(x, offset, weight, bias, stride, padding, dilation, mask):
    """Textbook DCN v2 with explicit loops over batch, output pixels, offset groups and taps (tiny inputs only)."""
    B, C, H, W = x.shape
    cout, cin_g, kh, kw = weight.shape
    groups = C // cin_g
    K = kh * kw
    ho = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    G = offset.shape[1] // (2 * K)
    cpg = C // G
    rows = []
    for b in range(B):
        pix = []
        for i in range(ho):
            for j in range(wo):
                cols = []  # (C, K) sampled values
                for ci_group in range(G):
                    taps = []
                    for a in range(kh):
                        for c in range(kw):
                            k = a * kw + c
                            dy = offset[b, 2 * (ci_group * K + k), i, j]
                            dx = offset[b, 2 * (ci_group * K + k) + 1, i, j]
                            y = i * stride - padding + a * dilation + dy
                            xx = j * stride - padding + c * dilation + dx
                            v = _bilinear(x[b, ci_group * cpg : (ci_group + 1) * cpg], y, xx)
                            if mask is not None:
                                v = v * mask[b, ci_group * K + k, i, j]
                            taps.append(v)
                    cols.append(torch.stack(taps, dim=1))  # (cpg, K)
                col = torch.cat(cols, dim=0)  # (C, K)
                outs = []
                for o in range(cout):
                    g = o // (cout // groups)
                    v = (weight[o] * col[g * cin_g : (g + 1) * cin_g].reshape(cin_g, kh, kw)).sum()
                    outs.append(v + (bias[o] if bias is not None else 0.0))
                pix.append(torch.stack(outs))
        rows.append(torch.stack(pix, dim=1).reshape(cout, ho, wo))
    return torch.stack(rows)


CASES = [
    # (B, C, H, W, Cout, groups, G, k, stride, padding, dilation, with_mask, with_bias)
    (2, 3, 5, 6, 4, 1, 1, 3, 1, 1, 1, True, True),
    (1, 4, 6, 5, 2, 2, 2, 3, 2, 1, 1, True, False),
    (1, 2, 5, 5, 3, 1, 1, 3, 1, 2, 2, False, True),
    (1, 2, 4, 7, 2, 1, 1, 2, 1, 0, 1, True, True),
]


@pytest.mark.parametrize("case", CASES)
def test_pure_matches_reference_forward_and_gradient(case):
    B, C, H, W, cout, groups, G, k, s, p, d, with_mask, with_bias = case
    g = torch.Generator().manual_seed(hash(case) % 1000)
    ho = (H + 2 * p - d * (k - 1) - 1) // s + 1
    wo = (W + 2 * p - d * (k - 1) - 1) // s + 1
    dt = torch.float64
    x = torch.randn(B, C, H, W, generator=g, dtype=dt, requires_grad=True)
    # offsets up to ±2.5 px so that some taps fall outside the image
    off = (torch.rand(B, 2 * G * k * k, ho, wo, generator=g, dtype=dt) * 5 - 2.5).requires_grad_()
    w = torch.randn(cout, C // groups, k, k, generator=g, dtype=dt, requires_grad=True)
    b = torch.randn(cout, generator=g, dtype=dt, requires_grad=True) if with_bias else None
    m = torch.rand(B, G * k * k, ho, wo, generator=g, dtype=dt, requires_grad=True) * 2 if with_mask else None
    if m is not None:
        m = m.detach().requires_grad_()
    leaves = [t for t in (x, off, w, b, m) if t is not None]

    out = deform_conv2d_pure(x, off, w, b, s, p, d, m)
    ref = reference_deform_conv(x, off, w, b, s, p, d, m)
    assert out.shape == ref.shape == (B, cout, ho, wo)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-9)

    probe = torch.randn(out.shape, generator=g, dtype=dt)
    grads = torch.autograd.grad((out * probe).sum(), leaves)
    grads_ref = torch.autograd.grad((ref * probe).sum(), leaves)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga, gr, atol=1e-9, rtol=1e-8)


def test_zero_offset_unit_mask_equals_conv2d():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 9, 11, generator=g, dtype=torch.float64)
    w = torch.randn(7, 5, 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(7, generator=g, dtype=torch.float64)
    off = torch.zeros(2, 18, 9, 11, dtype=torch.float64)
    ones = torch.ones(2, 9, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(deform_conv2d_pure(x, off, w, b, 1, 1, 1, ones), F.conv2d(x, w, b, padding=1))
    # strided + dilated, no mask
    off2 = torch.zeros(2, 18, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(
        deform_conv2d_pure(x, off2, w, b, 2, 1, 2), F.conv2d(x, w, b, stride=2, padding=1, dilation=2)
    )


@pytest.mark.parametrize("dy,dx", [(1, 0), (0, -2), (2, 1)])
def test_integer_offset_equals_shifted_conv(dy, dx):
    """A constant integer offset (dy, dx) samples x[i+a-1+dy, j+c-1+dx]: conv2d of a shifted, zero-filled input."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 8, 10, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    off = torch.zeros(1, 18, 8, 10, dtype=torch.float64)
    off[:, 0::2] = dy
    off[:, 1::2] = dx
    # big zero frame, then read the window shifted by (dy, dx)
    P = 4
    xp = F.pad(x, (P, P, P, P))
    shifted = xp[:, :, P - 1 + dy : P - 1 + dy + 8 + 2, P - 1 + dx : P - 1 + dx + 10 + 2]
    ref = F.conv2d(shifted, w)
    torch.testing.assert_close(deform_conv2d_pure(x, off, w), ref)


def test_half_pixel_offset_is_average_of_neighbours():
    x = torch.arange(12.0, dtype=torch.float64).reshape(1, 1, 3, 4)
    w = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    w[0, 0, 0, 0] = 1.0
    off = torch.zeros(1, 2, 3, 4, dtype=torch.float64)
    off[:, 1] = (
        0.5  # dx = +0.5: mean of x[i, j] and x[i, j+1]; beyond the right edge the zero corner halves it
    )
    out = deform_conv2d_pure(x, off, w, padding=0)
    expect = 0.5 * (x + F.pad(x, (0, 1))[..., 1:])
    torch.testing.assert_close(out, expect)


def test_module_zero_init_is_plain_conv_and_guide_changes_output():
    torch.manual_seed(0)
    m = DeformableConv2d(4, 6, guide_channels=5, backend="torch").double()
    x = torch.randn(1, 4, 6, 7, dtype=torch.float64)
    guide = torch.randn(1, 5, 6, 7, dtype=torch.float64)
    # zero-initialised offsets, mask = 2·sigmoid(0) = 1
    torch.testing.assert_close(m(x, guide), F.conv2d(x, m.regular_conv.weight, padding=1))
    torch.nn.init.normal_(m.offset_conv.weight, std=0.3)
    assert not torch.allclose(m(x, guide), m(x, guide * 2))


def test_shape_errors_are_clear():
    x = torch.randn(1, 4, 6, 6)
    w = torch.randn(4, 4, 3, 3)
    with pytest.raises(ShapeError, match="offset must be"):
        modulated_deform_conv2d(x, torch.zeros(1, 17, 6, 6), w, backend="torch")
    with pytest.raises(ShapeError, match="mask must be"):
        modulated_deform_conv2d(x, torch.zeros(1, 18, 6, 6), w, mask=torch.ones(1, 8, 6, 6), backend="torch")
    with pytest.raises(ValueError, match="backend"):
        modulated_deform_conv2d(x, torch.zeros(1, 18, 6, 6), w, backend="cuda")


def test_torchvision_backend_requires_torchvision():
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here; this checks the error without it")
    with pytest.raises(ImportError, match="torchvision"):
        modulated_deform_conv2d(
            torch.zeros(1, 1, 3, 3), torch.zeros(1, 18, 3, 3), torch.zeros(1, 1, 3, 3), backend="torchvision"
        )
    # auto falls back to the pure path
    out = modulated_deform_conv2d(torch.ones(1, 1, 3, 3), torch.zeros(1, 18, 3, 3), torch.ones(1, 1, 3, 3))
    assert out[0, 0, 1, 1].item() == 9.0


@pytest.mark.iqa
@pytest.mark.parametrize("case", CASES)
def test_pure_matches_torchvision(case):
    assert dcn.torchvision_available()
    from torchvision.ops import deform_conv2d as tv

    B, C, H, W, cout, groups, G, k, s, p, d, with_mask, with_bias = case
    g = torch.Generator().manual_seed(7)
    ho = (H + 2 * p - d * (k - 1) - 1) // s + 1
    wo = (W + 2 * p - d * (k - 1) - 1) // s + 1
    x = torch.randn(B, C, H, W, generator=g, requires_grad=True)
    off = (torch.rand(B, 2 * G * k * k, ho, wo, generator=g) * 5 - 2.5).requires_grad_()
    w = torch.randn(cout, C // groups, k, k, generator=g, requires_grad=True)
    b = torch.randn(cout, generator=g) if with_bias else None
    m = (torch.rand(B, G * k * k, ho, wo, generator=g) * 2).requires_grad_() if with_mask else None
    ours = deform_conv2d_pure(x, off, w, b, s, p, d, m)
    theirs = tv(x, off, w, b, (s, s), (p, p), (d, d), m)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    leaves = [t for t in (x, off, w, m) if t is not None]
    ga = torch.autograd.grad(ours.sum(), leaves)
    gb = torch.autograd.grad(theirs.sum(), leaves)
    for a, bb in zip(ga, gb):
        torch.testing.assert_close(a, bb, atol=1e-4, rtol=1e-4)
