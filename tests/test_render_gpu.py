"""Batched renderer + degradation (gyrobench.synth.render_gpu, issue 11 item 2), checked on the CPU device:
a batch equals its images rendered / degraded one at a time, and the OpenCV renderer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_render_cpu import K_SMALL, _hwc, _poses, _smooth_frame

from gyrobench.errors import ShapeError
from gyrobench.synth.blur import render_blur
from gyrobench.synth.degrade import Degradation
from gyrobench.synth.render_cpu import render_blur_cpu
from gyrobench.synth.render_gpu import degrade_batch, pad_poses, render_blur_batch

CROP = (20, 15, 80, 60)


def _batch(device="cpu"):
    frames = torch.cat([_smooth_frame(seed=s) for s in range(3)]).to(device)
    homs = [_poses(K_SMALL, n=n, yaw=y) for n, y in ((9, 0.03), (17, -0.05), (5, 0.01))]
    return frames, homs


def test_batch_equals_one_at_a_time_and_opencv():
    frames, homs = _batch()
    got = render_blur_batch(frames, homs, crop=CROP, sat_threshold=1.0)
    for i, h in enumerate(homs):
        one = render_blur(frames[i:i + 1], torch.from_numpy(h)[None], crop=CROP, sat_threshold=1.0)
        for k in ("blurred", "sat_mask", "valid", "sharp"):
            torch.testing.assert_close(got[k][i:i + 1], one[k], atol=2e-6, rtol=0)
        cv = render_blur_cpu(_hwc(frames[i:i + 1]), h, crop=CROP, sat_threshold=1.0)
        assert np.abs(_hwc(got["blurred"][i:i + 1]) - cv["blurred"]).max() <= 1e-4


def test_pad_poses_weights():
    H, W = pad_poses([np.tile(np.eye(3), (2, 1, 1)), np.tile(np.eye(3), (4, 1, 1))])
    assert H.shape == (2, 4, 3, 3) and np.allclose(W.sum(1), 1) and np.allclose(W[0], [0.5, 0.5, 0, 0])
    with pytest.raises(ShapeError, match="pose list 0"):
        pad_poses([np.eye(3)])
    with pytest.raises(ShapeError, match="B = 1"):
        render_blur_batch(torch.zeros(2, 3, 8, 8), [np.eye(3)[None]], crop=(0, 0, 8, 8))


def test_degrade_batch_equals_per_sample():
    frames, homs = _batch()
    r = render_blur_batch(frames, homs, crop=CROP, sat_threshold=1.0)
    deg = Degradation("gyrodeblurnet_official")
    seeds = [11, 22, 33]
    out, draw = degrade_batch(deg, r["blurred"], r["sat_mask"], seeds)
    assert len(draw) == 3
    for i, s in enumerate(seeds):
        one, d1 = degrade_batch(deg, r["blurred"][i:i + 1], r["sat_mask"][i:i + 1], [s])
        torch.testing.assert_close(out[i:i + 1], one, atol=0, rtol=0)
        assert d1.noise_seed[0] == draw.noise_seed[i]
    assert not torch.equal(out[0], r["blurred"][0])  # noise was applied


@pytest.mark.gpu
def test_cuda_batch_matches_cpu():
    frames, homs = _batch()
    a = render_blur_batch(frames, homs, crop=CROP, sat_threshold=1.0)
    b = render_blur_batch(frames.cuda(), homs, crop=CROP, sat_threshold=1.0)
    for k in a:
        torch.testing.assert_close(b[k].cpu(), a[k], atol=1e-5, rtol=0)
