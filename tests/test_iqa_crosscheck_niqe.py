"""Cross-check (marker ``iqa``, runs in .venv-iqa): gyrobench's NIQE against pyiqa's ``niqe`` given the same
local pristine parameters (written to a .mat file here; nothing downloaded)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.iqa


def _pyiqa_niqe(tmp_path):
    import pyiqa
    import scipy.io

    from gyrobench.metrics.niqe import _default_params_path

    d = json.loads(_default_params_path().read_text())
    mat = tmp_path / "niqe_modelparameters.mat"
    scipy.io.savemat(mat, {"mu_prisparam": np.asarray(d["mu"])[None], "cov_prisparam": np.asarray(d["cov"])})
    return pyiqa.create_metric("niqe", pretrained_model_path=str(mat), device="cpu")


def test_niqe_equals_pyiqa_on_synthetic_images(tmp_path):
    from gyrobench.metrics import create_metric

    ref = _pyiqa_niqe(tmp_path)
    ours = create_metric("niqe", protocol="display8")
    rng = np.random.default_rng(0)
    # smooth random fields + noise at 8-bit levels, 2x3 blocks of 96 px plus a ragged edge
    base = rng.random((3, 3, 24, 30))
    imgs = torch.nn.functional.interpolate(torch.from_numpy(base), size=(200, 300), mode="bicubic")
    imgs = (imgs + 0.05 * torch.from_numpy(rng.normal(size=imgs.shape))).clamp(0, 1)
    imgs = (torch.round(imgs * 255) / 255).float()
    a = ours(imgs).numpy()
    b = np.array([float(ref(imgs[i : i + 1])) for i in range(len(imgs))])
    assert np.allclose(a, b, atol=0.02), (a, b)


@pytest.mark.shared
def test_niqe_equals_pyiqa_on_calibration_images(tmp_path, shared_dir):
    import cv2

    from gyrobench.metrics import create_metric

    ref = _pyiqa_niqe(tmp_path)
    ours = create_metric("niqe", protocol="display8")
    for name in ["I03", "I04", "I06", "I08", "I19"]:
        im = cv2.imread(str(shared_dir / "reference/niqe/calibration/dist" / f"{name}.png"))[:, :, ::-1]
        x = torch.from_numpy(im.copy()).permute(2, 0, 1)[None].float() / 255
        assert float(ours(x)) == pytest.approx(float(ref(x)), abs=0.01), name
