"""ShardDataset on shards written by the synthesis pipeline: recomputed fields equal the stored ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from gyrobench.data.dataset import ShardDataset, collate
from gyrobench.data.shards import field_spec_of, read_shard_attrs
from gyrobench.gyro.cmf import FieldSpec


@pytest.fixture(scope="module")
def smoke_cmf(tmp_path_factory, repo_root):
    from gyrobench.builder.pipeline import synthesize

    tmp = tmp_path_factory.mktemp("smoke")
    recipe = yaml.safe_load((repo_root / "gyrobench" / "recipes" / "smoke.yaml").read_text())
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


@pytest.mark.parametrize("spec, options", [(FieldSpec(M=4), {"M": 4}), (FieldSpec(interpolation="cubic"), {"interp": "cubic"})])
def test_field_spec_other_than_stored_recomputes(smoke_cmf, spec, options):
    """Stored fields are M=8, linear; asking for other fields must not return the stored ones."""
    import h5py

    from gyrobench.gyro.cmf import camera_motion_field

    ds = ShardDataset(smoke_cmf, split="train", crop=32, seed=1, field=spec)
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
    same = ShardDataset(smoke_cmf, split="train", crop=32, seed=1, field=FieldSpec(M=8, interpolation="linear"))[0]
    stored = ShardDataset(smoke_cmf, split="train", crop=32, seed=1)[0]
    assert torch.equal(same["cmf_clean"], stored["cmf_clean"])  # the stored options: still read from the shard


def test_shards_record_their_field_spec(smoke_cmf, tmp_path):
    """Synthesis writes the recipe's FieldSpec (M = storage.cmf_segments) into every shard; a loader compares it
    with ``==``. A recipe with cmf_segments 4 gives a different spec, and 8-channel stored fields."""
    for shard in sorted(smoke_cmf.glob("shard-*.h5")):
        assert field_spec_of(read_shard_attrs(shard)) == FieldSpec(M=8, stride=2, interpolation="linear",
                                                                  anchor="mid", rotation="euler")
    recipe = yaml.safe_load((smoke_cmf.parent / "smoke_cmf.yaml").read_text())
    recipe["storage"]["cmf_segments"] = 4
    recipe["splits"] = [dict(recipe["splits"][1], size=1)]
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    from gyrobench.builder.pipeline import synthesize

    synthesize(tmp_path / "r.yaml", tmp_path / "m4")
    attrs = read_shard_attrs(tmp_path / "m4" / "shard-00000.h5")
    assert field_spec_of(attrs) == FieldSpec(M=4) != FieldSpec()
    s = ShardDataset(tmp_path / "m4", split="test", crop=None)[0]
    assert s["cmf_clean"].shape[0] == 8  # the shard's own spec (M = 4) without asking


def test_field_spec_fallback_for_shards_without_the_attribute():
    assert field_spec_of({}, stored_channels=8) == FieldSpec(M=4)
    assert field_spec_of({}) == FieldSpec()
    assert field_spec_of({"field_spec": '{"M": 6, "stride": 2, "interpolation": "cubic", "anchor": "mid", '
                                        '"rotation": "euler"}'}) == FieldSpec(M=6, interpolation="cubic")
