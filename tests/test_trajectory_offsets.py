"""GyroDeblurNet's ``offset_base: trajectory`` (issue 22): the GDB's taps on the field's blur trajectory.

References are closed forms: a field of equal segments (a, b) puts the trajectory points at (j − M/2)·(a, b), so
tap k of the 3×3 conv sits at (k − 4)·(a, b)/8 bottleneck pixels; bilinear sampling of a linear ramp is exact, so
a deformable conv with weight 1/9 on every tap returns the ramp at the mean of the points it samples.
"""

from __future__ import annotations

import pytest
import torch

from gyrobench.errors import RecipeError, ShapeError
from gyrobench.models import build
from gyrobench.models.dcn import DeformableConv2d
from gyrobench.models.gyrodeblurnet import trajectory_offsets

GDN_TINY = {"width": 8, "enc_blk_nums": [1, 1, 1], "middle_blk_num": 2, "dec_blk_nums": [1, 1, 1], "gdb_num": 1,
            "gdb_residual": True, "gyro_norm": True, "max_offset": 2.0, "dcn_backend": "torch"}
GRID = [(ky - 1, kx - 1) for ky in range(3) for kx in range(3)]  # torchvision's row-major tap order, (dy, dx)


def _uniform_field(m: int, dx: float, dy: float, h: int = 8, w: int = 8) -> torch.Tensor:
    cmf = torch.zeros(1, 2 * m, h, w)
    cmf[:, 0::2], cmf[:, 1::2] = dx, dy
    return cmf


@pytest.mark.parametrize("m", [2, 4, 8, 16])
def test_uniform_motion_puts_the_taps_on_the_line_in_time_order(m):
    # total motion (a, b)·M over the exposure whatever M: the taps at t_k = k/8 sit at (t_k − 1/2)·M·(a, b)
    a, b = 24.0 / m, -8.0 / m  # full-res px per segment: 24 px right, 8 px up in all
    off = trajectory_offsets(_uniform_field(m, a, b), down=4)
    assert off.shape == (1, 18, 2, 2)
    for k, (gy, gx) in enumerate(GRID):
        t = k / 8
        want_y, want_x = (t - 0.5) * m * b / 8, (t - 0.5) * m * a / 8  # bottleneck px (÷ 8)
        assert float(off[0, 2 * k, 1, 1]) == pytest.approx(want_y - gy, abs=1e-6)
        assert float(off[0, 2 * k + 1, 1, 1]) == pytest.approx(want_x - gx, abs=1e-6)


def test_curved_trajectory_is_anchored_at_mid_exposure_and_pooled_to_the_bottleneck():
    torch.manual_seed(0)
    cmf = torch.randn(2, 16, 8, 8) * 3
    off = trajectory_offsets(cmf, down=4)
    # an independent sum for one bottleneck pixel: mean of the 4×4 field pixels, then the cumulative path
    seg = cmf[1, :, 4:8, 0:4].mean(dim=(1, 2)).view(8, 2)  # (dx, dy) per segment
    pts = torch.cat([torch.zeros(1, 2), seg.cumsum(0)])
    pts = pts - pts[4]
    for k, (gy, gx) in enumerate(GRID):
        assert float(off[1, 2 * k, 1, 0]) == pytest.approx(float(pts[k, 1]) / 8 - gy, abs=1e-5)
        assert float(off[1, 2 * k + 1, 1, 0]) == pytest.approx(float(pts[k, 0]) / 8 - gx, abs=1e-5)


def test_bad_fields_are_refused():
    with pytest.raises(ShapeError, match="M even"):
        trajectory_offsets(torch.zeros(1, 6, 8, 8), down=4)
    with pytest.raises(ShapeError, match="multiple of 4"):
        trajectory_offsets(torch.zeros(1, 16, 6, 8), down=4)


def test_deformable_conv_samples_the_ramp_at_the_trajectory():
    # one channel, weight 1/9 per tap: the output is the mean of the 9 samples; the input x ↦ column index is linear,
    # so bilinear sampling is exact and the output at (i, j) is j + mean over taps of (grid_x + offset_x)
    h = w = 12
    dcn = DeformableConv2d(1, 1, guide_channels=1, backend="torch")
    torch.nn.init.constant_(dcn.regular_conv.weight, 1.0 / 9)
    ramp = torch.arange(w, dtype=torch.float32).expand(1, 1, h, w).contiguous()
    cmf = _uniform_field(8, 2.0, 0.0, 4 * h, 4 * w)  # 16 full-res px in x over the exposure: ±8 px = ±1 feature px
    base = trajectory_offsets(cmf, down=4)
    with torch.no_grad():
        out = dcn(ramp, torch.zeros(1, 1, h, w), base)
    pts_x = [(k / 8 - 0.5) * 16 / 8 for k in range(9)]  # the sampled columns relative to j
    assert abs(sum(pts_x)) < 1e-9  # symmetric about mid-exposure: the mean sampled column is j
    assert torch.allclose(out[0, 0, 4:8, 4:8], ramp[0, 0, 4:8, 4:8], atol=1e-5)
    # a one-sided path (the first half only) shifts the mean: check against the closed form
    one_sided = trajectory_offsets(torch.cat([cmf[:, :8], torch.zeros_like(cmf[:, 8:])], 1), down=4)
    with torch.no_grad():
        out2 = dcn(ramp, torch.zeros(1, 1, h, w), one_sided)
    xs = [min(k, 4) * 2 / 8 - 1.0 for k in range(9)]  # points p_j − p_4 of segments (2, 0) for j < 4, else 0
    assert torch.allclose(out2[0, 0, 4:8, 4:8], ramp[0, 0, 4:8, 4:8] + sum(xs) / 9, atol=1e-5)


def test_option_adds_no_keys_needs_the_gyro_and_makes_the_output_follow_the_field():
    torch.manual_seed(3)
    net = build("gyrodeblurnet", **GDN_TINY, offset_base="trajectory")
    ref = build("gyrodeblurnet", **GDN_TINY)
    assert list(net.state_dict()) == list(ref.state_dict())
    with pytest.raises(RecipeError, match="needs the gyro"):
        build("gyrodeblurnet", **GDN_TINY, offset_base="trajectory", use_gyro=False)
    with pytest.raises(RecipeError, match="offset_base"):
        build("gyrodeblurnet", **GDN_TINY, offset_base="flow")
    ref.load_state_dict(net.state_dict())  # the same weights, regular grid
    for model in (net, ref):
        torch.nn.init.constant_(model.gyro_deblurring_blks[0].res_scale, 0.5)  # open the residual GDB
    x = torch.rand(1, 3, 32, 32)
    f1, f2 = torch.randn(1, 16, 16, 16) * 8, torch.randn(1, 16, 16, 16) * 8
    with torch.no_grad():
        y1, y2 = (net({"blurred": x, "cmf_noisy": f}) for f in (f1, f2))
        r1, r2 = (ref({"blurred": x, "cmf_noisy": f}) for f in (f1, f2))
    # the offset and mask convs are zero-initialised: on the regular grid the field cannot change the output at
    # step 0; on the trajectory it moves the sampling points, so it does
    assert torch.equal(r1, r2)
    assert float((y1 - y2).abs().max()) > 1e-4
