"""ShardDataset on shards written by the synthesis pipeline: recomputed fields equal the stored ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from gyrobench.data.dataset import ShardDataset, collate


@pytest.fixture(scope="module")
def smoke_cmf(tmp_path_factory, repo_root):
    from gyrobench.build.pipeline import synthesize

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


@pytest.mark.parametrize("options", [{"M": 4}, {"interp": "cubic"}])
def test_cmf_options_other_than_stored_recompute(smoke_cmf, options):
    """Stored fields are M=8, linear; asking for other fields must not return the stored ones."""
    import h5py

    from gyrobench.gyro.cmf import camera_motion_field

    ds = ShardDataset(smoke_cmf, split="train", crop=32, seed=1, cmf_options=options)
    s = ds[0]
    with h5py.File(smoke_cmf / s["meta"]["shard"], "r") as f:
        i = s["meta"]["index"]
        assert f["cmf_clean"].shape[-1] == 16
        w = f["gyro_w"][i] @ f["R_imu_to_cam"][i].T
        ref = camera_motion_field(f["gyro_t_ns"][i], w, f["K"][i], crop=s["meta"]["crop"], layout="chw",
                                  **{"M": 8, **options})
    assert s["cmf_clean"].shape == (ref.shape[0], 16, 16)
    np.testing.assert_allclose(s["cmf_clean"].numpy(), ref, rtol=1e-5, atol=1e-4)
    assert s["cmf_noisy"].shape == s["cmf_clean"].shape and not torch.equal(s["cmf_noisy"], s["cmf_clean"])
    same = ShardDataset(smoke_cmf, split="train", crop=32, seed=1, cmf_options={"M": 8, "interp": "linear"})[0]
    stored = ShardDataset(smoke_cmf, split="train", crop=32, seed=1)[0]
    assert torch.equal(same["cmf_clean"], stored["cmf_clean"])  # the stored options: still read from the shard
