"""NIQE: calibration against the published pyiqa scores, the MATLAB imresize, the AGGD fit and the shipped
parameter file (no ../shared at run time)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.special import gamma as G

from gyrobench.errors import GyrobenchError, ShapeError
from gyrobench.metrics import create_metric
from gyrobench.metrics.imresize import imresize, resize_matrix
from gyrobench.metrics.niqe import _default_params_path, aggd_fit

NAMES = ["I03", "I04", "I06", "I08", "I19"]
# reference/niqe/README.md, "NIQE, pyiqa (Python port, same parameters)" and "LIVE MATLAB release" rows
PYIQA_ROW = [15.6538, 3.6549, 3.2342, 3.1921, 9.0722]
MATLAB_ROW = [15.7536293917814, 3.65492152353770, 3.23547743716998, 3.18403333858339, 8.63519663862637]


def _read_png(path) -> torch.Tensor:
    import cv2

    im = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert im is not None, path
    return torch.from_numpy(np.ascontiguousarray(im[:, :, ::-1])).permute(2, 0, 1)[None].float() / 255.0


@pytest.mark.shared
def test_niqe_matches_pyiqa_row_on_calibration_images(shared_dir):
    niqe = create_metric("niqe", protocol="display8")  # the PNGs are display-encoded already
    got = [float(niqe(_read_png(shared_dir / "reference/niqe/calibration/dist" / f"{n}.png"))) for n in NAMES]
    for name, g, ref in zip(NAMES, got, PYIQA_ROW):
        assert abs(g - ref) <= 0.01, (name, g, ref)
    # documented distance to the MATLAB release (docs/metrics.md): I04/I06/I08 within 0.01, I03 and I19 are
    # where the Python ports differ from MATLAB
    for name, g, ref in zip(NAMES[1:4], got[1:4], MATLAB_ROW[1:4]):
        assert abs(g - ref) <= 0.01, (name, g, ref)


@pytest.mark.shared
def test_shipped_params_equal_shared_reference(shared_dir):
    shipped = json.loads(_default_params_path().read_text())
    ref = json.loads((shared_dir / "reference/niqe/niqe_pristine_params.json").read_text())
    assert shipped == ref
    assert "LIVE" in shipped["copyright"]


def test_shipped_params_present_with_notice():
    d = json.loads(_default_params_path().read_text())
    assert len(d["mu"]) == 36 and len(d["cov"]) == 36 and "University of Texas" in d["copyright"]
    assert (_default_params_path().parent / "NOTICE.md").is_file()


def test_imresize_matrix_against_direct_formula():
    # independent evaluation of MATLAB's antialiased bicubic at scale 1/2 for one interior output pixel:
    # u = x/s + 0.5(1 - 1/s) (1-based), h(t) = s * cubic(s t), support |t| < 4
    def keys(t):
        t = abs(t)
        return 1.5 * t**3 - 2.5 * t**2 + 1 if t <= 1 else (-0.5 * t**3 + 2.5 * t**2 - 4 * t + 2 if t <= 2 else 0.0)

    n, s, x = 40, 0.5, 10
    u = x / s + 0.5 * (1 - 1 / s)  # 19.5
    taps = {j: s * keys(s * (u - j)) for j in range(1, n + 1)}
    tot = sum(taps.values())
    row = resize_matrix(n, s)[x - 1]
    for j, w in taps.items():
        assert row[j - 1] == pytest.approx(w / tot, abs=1e-12)
    # rows sum to 1, a constant stays constant, output size is ceil(n s)
    m = resize_matrix(37, 0.5)
    assert m.shape == (19, 37) and np.allclose(m.sum(1), 1)
    assert np.allclose(imresize(np.full((20, 30), 7.0), 0.5), 7.0)


def test_imresize_mirrors_at_the_border():
    # output pixel 1 at scale 1/2 reads input taps 1-4..1+4 around u = 1.5; taps below 1 mirror to 1, 2, ...
    m = resize_matrix(10, 0.5)
    assert m[0, 0] > m[0, 1] > 0  # mirrored taps add to the first pixels
    ramp = np.arange(40.0)[:, None] * np.ones((1, 4))
    out = imresize(ramp, 0.5)[:, 0]
    # away from the border a linear ramp is reproduced exactly at the mapped coordinate u - 1 = 2 i + 0.5
    assert np.allclose(out[3:-3], 2 * np.arange(3, 17) + 0.5)
    # at the border the mirror (1..n, n..1) pulls the value toward the edge: not the ramp value
    assert out[0] != pytest.approx(0.5, abs=1e-3)


def test_aggd_fit_recovers_known_shape():
    # symmetric generalised Gaussian with alpha=2 (a normal) and alpha=1 (Laplace): moment matching
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 2.0, (1, 200_000))
    lap = rng.laplace(0, 1.0, (1, 200_000))
    a, bl, br = aggd_fit(np.concatenate([normal, lap]))
    assert a[0] == pytest.approx(2.0, abs=0.05) and a[1] == pytest.approx(1.0, abs=0.03)
    # beta = sigma sqrt(G(1/a)/G(3/a)): for a normal with sigma 2, beta = 2 sqrt(2)
    assert bl[0] == pytest.approx(2 * math.sqrt(G(0.5) / G(1.5)), rel=0.02)
    # a block with no negative values gives NaN (MATLAB mean of an empty set)
    a, bl, br = aggd_fit(np.abs(normal))
    assert np.isnan(a[0]) and np.isnan(bl[0])


def test_niqe_ranks_blur_as_worse():
    import cv2

    from gyrobench.assets import kodak_paths

    paths = kodak_paths()
    if not paths:
        pytest.skip("Kodak assets not shipped in this build")
    img = _read_png(paths[0])[..., :288, :288]
    blurred = torch.from_numpy(cv2.GaussianBlur(img[0].permute(1, 2, 0).numpy(), (0, 0), 3.0)).permute(2, 0, 1)[None]
    niqe = create_metric("niqe", protocol="display8")
    s = niqe(torch.cat([img, blurred]))
    assert s.shape == (2,) and s[1] > s[0] + 1.0


def test_niqe_errors():
    with pytest.raises(ShapeError, match="at least 2"):
        create_metric("niqe", protocol="display8")(torch.rand(1, 3, 100, 100))
    with pytest.raises(GyrobenchError, match="compat"):
        create_metric("niqe", input_space="display", compat="matlab")
    with pytest.raises(GyrobenchError, match="not found"):
        create_metric("niqe", input_space="display", params_path="/nonexistent/niqe.json")
