"""TOPIQ through pyiqa with a local weights file (marker ``iqa``): no network, ``weights_only`` loading.

The real KonIQ weights cannot be obtained here, so a randomly initialised CFANet saved in pyiqa's
``{"params": state_dict}`` layout stands in: this checks the plumbing (construction without downloads, strict
loading, scoring shape), not the published TOPIQ values.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.iqa


def test_topiq_runs_offline_with_local_weights(tmp_path, monkeypatch):
    import pyiqa

    from gyrobench.metrics import create_metric
    from gyrobench.metrics.topiq import EXPECTED_FILES

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    stand_in = pyiqa.create_metric("topiq_nr", device="cpu", pretrained=False, backbone_pretrain=False)
    torch.save({"params": stand_in.net.state_dict()}, tmp_path / EXPECTED_FILES[0])
    m = create_metric("topiq_nr", protocol="srgb8", weights=tmp_path)
    assert m.available, m.unavailable_reason
    s = m(torch.rand(2, 3, 96, 128))
    assert s.shape == (2,) and torch.isfinite(s).all()
    # a file that is not a CFANet checkpoint is refused with a clear error
    torch.save({"params": {"foo": torch.zeros(1)}}, tmp_path / "bad.pth")
    from gyrobench.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a CFANet"):
        create_metric("topiq_nr", input_space="linear", weights=tmp_path / "bad.pth")(torch.rand(1, 3, 64, 64))
