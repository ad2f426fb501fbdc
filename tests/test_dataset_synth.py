"""ShardDataset on shards written by the synthesis pipeline: recomputed fields equal the stored ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from gyrobench.data.dataset import ShardDataset, collate


@pytest.fixture(scope="module")
def smoke_cmf(tmp_path_factory, repo_root):
    from gyrobench.synth.pipeline import synthesize

    tmp = tmp_path_factory.mktemp("smoke")
    recipe = yaml.safe_load((repo_root / "recipes" / "smoke.yaml").read_text())
    recipe["storage"]["store_cmf"] = "float16"
    recipe["splits"][0]["size"] = 4
    recipe["splits"][1]["size"] = 2
    path = tmp / "smoke_cmf.yaml"
    path.write_text(yaml.safe_dump(recipe))
    synthesize(path, tmp / "data")
    return tmp / "data"


@pytest.mark.parametrize("crop", [32, None])
def test_recomputed_fields_match_stored(smoke_cmf, crop):
    stored = ShardDataset(smoke_cmf, split="train", crop=crop, seed=1)
    recomputed = ShardDataset(smoke_cmf, split="train", crop=crop, seed=1, stored_fields=False)
    assert len(stored) == 4
    for i in range(len(stored)):
        a, b = stored[i], recomputed[i]
        assert a["meta"]["crop"] == b["meta"]["crop"]
        for key in ("cmf_clean", "cmf_noisy"):
            assert a[key].shape == b[key].shape
            scale = float(b[key].abs().max()) + 1e-3
            # float16 storage: relative rounding 2^-11 of the magnitude
            torch.testing.assert_close(a[key], b[key], rtol=2e-3, atol=scale * 1e-3)
        assert not torch.equal(b["cmf_clean"], b["cmf_noisy"])  # the error model perturbs the field


def test_test_split_full_frame_batch(smoke_cmf):
    ds = ShardDataset(smoke_cmf, split="test", crop=None)
    batch = collate([ds[0], ds[1]])
    assert batch["blurred"].shape == (2, 3, 48, 48) and batch["cmf_clean"].shape == (2, 16, 24, 24)
    assert batch["meta"]["sample_id"] == ["test-000000", "test-000001"]
    assert np.isfinite(batch["blurred"].numpy()).all()
