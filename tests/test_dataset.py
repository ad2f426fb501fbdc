"""ShardDataset / collate (docs/conventions.md §2, §5; spec gyrodeblurnet.md §3.1 step 6, §6.1)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from test_train_support import M, write_tiny_dataset

from gyrobench.data.dataset import ShardDataset, collate, random_crop_offset
from gyrobench.errors import ShardError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"))


def _raw(root, shard, index, key):
    with h5py.File(root / shard, "r") as f:
        return f[key][index]


def test_lengths_and_splits(tiny):
    assert len(ShardDataset(tiny, split="train", crop=32)) == 8
    assert len(ShardDataset(tiny, split="test", crop=32)) == 2
    assert len(ShardDataset(tiny, split=None, crop=32)) == 10
    with pytest.raises(ShardError, match="split 'val'"):
        ShardDataset(tiny, split="val")


def test_sample_values_shapes_and_aligned_field(tiny):
    ds = ShardDataset(tiny, split="train", crop=32, seed=3)
    seen = set()
    for idx in range(len(ds)):
        s = ds[idx]
        m = s["meta"]
        x0, y0, cw, ch = m["crop"]
        ox, oy = x0 - 4, y0 - 6  # the tiny dataset stores the window (4, 6, 64, 48) of its frame
        assert (cw, ch) == (32, 32) and ox % 2 == 0 and oy % 2 == 0
        assert 0 <= ox <= 64 - 32 and 0 <= oy <= 48 - 32
        seen.add((ox, oy))
        raw = _raw(tiny, m["shard"], m["index"], "blurred")[oy:oy + 32, ox:ox + 32]
        np.testing.assert_array_equal(s["blurred"].numpy(), (raw.astype(np.float32) / 65535).transpose(2, 0, 1))
        assert s["blurred"].dtype == torch.float32 and s["sharp"].shape == (3, 32, 32)
        assert s["sat_mask"].shape == (3, 32, 32)
        # the stored field encodes its own coordinates: ch0 = column, ch1 = row -> the crop must start at o/2
        assert s["cmf_clean"].shape == (2 * M, 16, 16)
        assert s["cmf_clean"][0, 0, 0] == ox // 2 and s["cmf_clean"][1, 0, 0] == oy // 2
        assert s["cmf_clean"][0, 0, 15] == ox // 2 + 15 and s["cmf_clean"][1, 15, 0] == oy // 2 + 15
        assert torch.all(s["cmf_noisy"][3] == 1) and torch.all(s["cmf_clean"][3] == 0)
        np.testing.assert_array_equal(m["K"], _raw(tiny, m["shard"], m["index"], "K"))
        assert m["sample_id"].startswith("train-")
    assert len(seen) > 1  # offsets vary between samples


def test_crops_are_a_function_of_seed_epoch_index(tiny):
    a = ShardDataset(tiny, split="train", crop=32, seed=3)
    b = ShardDataset(tiny, split="train", crop=32, seed=3)
    crops = lambda ds: [ds[i]["meta"]["crop"] for i in range(len(ds))]  # noqa: E731
    first = crops(a)
    assert first == crops(b)
    a.set_epoch(1)
    assert crops(a) != first


def test_random_crop_offset_covers_even_range():
    rng = np.random.default_rng(0)
    offs = {random_crop_offset(rng, 10, 12, 8) for _ in range(400)}
    assert offs == {(x, y) for x in (0, 2, 4) for y in (0, 2)}


def test_full_image_and_center_crop(tiny):
    full = ShardDataset(tiny, split="test", crop=None)[0]
    assert full["blurred"].shape == (3, 48, 64) and full["cmf_clean"].shape == (2 * M, 24, 32)
    c = ShardDataset(tiny, split="test", crop=32, crop_mode="center")[1]
    assert c["meta"]["crop"] == (4 + 16, 6 + 8, 32, 32)


def test_collate_batch_dict(tiny):
    ds = ShardDataset(tiny, split="train", crop=32)
    batch = collate([ds[0], ds[1], ds[2]])
    assert batch["blurred"].shape == (3, 3, 32, 32) and batch["cmf_noisy"].shape == (3, 2 * M, 16, 16)
    assert isinstance(batch["meta"], dict) and len(batch["meta"]["sample_id"]) == 3


def test_corrupt_shard_is_refused(tmp_path):
    root = write_tiny_dataset(tmp_path / "d", n_train=4, n_test=0)
    shard = root / "shard-00000.h5"
    data = bytearray(shard.read_bytes())
    data[-100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="sha256"):
        ShardDataset(root, split="train", verify=True)
    ShardDataset(root, split="train", verify=False)  # the cheap checks alone pass (same size)


def test_missing_manifest_names_the_fix(tmp_path):
    with pytest.raises(ShardError, match="manifest"):
        ShardDataset(tmp_path)


def test_odd_crop_rejected(tiny):
    with pytest.raises(ShardError, match="even"):
        ShardDataset(tiny, crop=31)


def test_pickles_without_open_handles(tiny):
    import pickle

    ds = ShardDataset(tiny, split="train", crop=32)
    ds[0]  # opens a handle
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._files == {}
    torch.testing.assert_close(clone[0]["blurred"], ds[0]["blurred"])


def test_spawn_workers_match_single_process(tiny):
    ds = ShardDataset(tiny, split="train", crop=32, seed=5)
    ref = [collate([ds[i], ds[i + 1]]) for i in range(0, 8, 2)]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn",
                                         collate_fn=collate)
    got = list(loader)
    assert len(got) == 4
    for a, b in zip(ref, got):
        for key in ("blurred", "sharp", "cmf_clean", "cmf_noisy"):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
        assert a["meta"]["crop"] == b["meta"]["crop"]


def _flip_chunk_byte(path, key, index):
    """Flip one byte inside sample ``index``'s compressed chunk of ``key`` (file size unchanged)."""
    with h5py.File(path, "r") as f:
        info = f[key].id.get_chunk_info(index)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_chunk_under_no_verify_names_shard_and_sample(tmp_path):
    from gyrobench.data.shards import read_sample

    root = write_tiny_dataset(tmp_path / "d", n_train=4, n_test=0)
    shard = root / "shard-00000.h5"
    size = shard.stat().st_size
    _flip_chunk_byte(shard, "blurred", 2)
    assert shard.stat().st_size == size
    ds = ShardDataset(root, split="train", crop=32, verify=False)
    ds[1]  # other samples still read
    with pytest.raises(ShardError, match=r"shard-00000\.h5: sample 2 cannot be read.*corrupt.*rerun"):
        ds[2]
    with pytest.raises(ShardError, match=r"shard-00000\.h5: field 'blurred' of sample 2.*corrupt"):
        read_sample(shard, 2)
