"""TOPIQ without weights: constructs, reports unavailable with the reason and the expected file, never a number."""

from __future__ import annotations

import pytest
import torch

from gyrobench.metrics import MetricUnavailable, create_metric
from gyrobench.metrics.topiq import EXPECTED_FILES


def test_topiq_without_weights_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("GYROBENCH_TOPIQ_WEIGHTS", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("GYROBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    m = create_metric("topiq_nr", protocol="srgb8")
    assert m.available is False
    assert not m.lower_better and not m.full_reference
    # the reason names the expected file(s) (or the missing package) and where it looked
    assert EXPECTED_FILES[0] in m.unavailable_reason
    assert str(tmp_path / "nothing-here") in m.unavailable_reason
    with pytest.raises(MetricUnavailable, match="unavailable"):
        m(torch.rand(1, 3, 64, 64))
    assert m.info()["available"] is False


def test_topiq_finds_weights_by_option(tmp_path, monkeypatch):
    from gyrobench.metrics.topiq import find_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    f = tmp_path / EXPECTED_FILES[0]
    f.write_bytes(b"")
    assert find_weights(tmp_path)[0] == f
    assert find_weights(f)[0] == f
    assert find_weights(tmp_path / "elsewhere")[0] is None
