"""MetricSet owns the rule that keeps a run's numbers comparable (issue 12 item 2): a metric that cannot score
one image is dropped for the whole run, its earlier values discarded and the reason recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gyrobench.errors import ShapeError
from gyrobench.metrics import MetricSet
from gyrobench.metrics.registry import _REGISTRY, Metric, register_metric


@pytest.fixture()
def picky_metric():
    """A no-reference metric that scores the mean pixel x 100 and refuses images narrower than 8 px."""

    @register_metric
    class Picky(Metric):
        name = "picky_test"
        full_reference = False
        lower_better = True

        def score(self, pred8, target8):
            if pred8.shape[-1] < 8:
                raise ShapeError(f"picky_test: needs width >= 8, got {pred8.shape[-1]}")
            return pred8.mean(dim=(1, 2, 3)) / 255 * 100

    yield "picky_test"
    _REGISTRY.pop("picky_test", None)


def _img(w: int, v: float) -> torch.Tensor:
    return torch.full((1, 3, 8, w), v)


def test_a_metric_failing_on_one_image_is_dropped_for_the_whole_run(picky_metric):
    ms = MetricSet(["psnr", picky_metric], protocol="gyrodeblurnet_official")
    sharp = _img(8, 0.5)
    first = ms.score("a", _img(8, 0.4), sharp)
    assert set(first) == {"psnr", picky_metric}  # scored the first image
    ms.score("b", _img(4, 0.4), _img(4, 0.5))  # too narrow for the picky metric
    ms.score("c", _img(8, 0.3), sharp)
    assert picky_metric not in ms.active and ms.reported == ["psnr"]
    assert all(picky_metric not in row for row in ms.rows)  # the first image's value is discarded too
    assert "width >= 8" in ms.unavailable[picky_metric] and "(sample b)" in ms.unavailable[picky_metric]
    summaries = ms.summaries()
    assert set(summaries) == {"psnr"} and summaries["psnr"]["n"] == 3
    # PSNR of the three images, computed here: the official protocol truncates x255 to uint8

    def psnr(a, b):
        a8, b8 = np.floor(np.float32(a) * np.float32(255)), np.floor(np.float32(b) * np.float32(255))
        return 10 * np.log10(255.0**2 / float(a8 - b8) ** 2)
    expected = np.mean([psnr(0.4, 0.5), psnr(0.4, 0.5), psnr(0.3, 0.5)])
    assert summaries["psnr"]["mean"] == pytest.approx(expected, abs=1e-9)


def test_unavailable_from_the_start_and_no_finite_value_and_no_reference():
    ms = MetricSet(["psnr", "topiq_nr"], protocol="gyrodeblurnet_official",
                   options={"topiq_nr": {"weights": "/nonexistent/topiq.pth"}})
    assert "topiq_nr" in ms.unavailable and "topiq_nr" not in ms.active
    x = _img(8, 0.5)
    ms.score("a", x, x)  # identical images: PSNR = +inf
    assert ms.summaries() == {} and "no finite" in ms.unavailable["psnr"]
    nr = MetricSet(["ssim"], protocol="gyrodeblurnet_official")
    nr.score("a", x, None)
    assert nr.summaries() == {} and "no ground truth" in nr.unavailable["ssim"]
