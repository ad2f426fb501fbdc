"""Porting DeepGyro's official Keras weights (spec baselines.md §3.6), on a synthetic file in the Keras 2 HDF5
layout (the real DeepGyro.hdf5 is not available offline). The reference outputs are computed in numpy directly
from the Keras-layout kernels (channels-last correlation; transposed conv as the scatter of each input pixel)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from gyrobench.errors import CheckpointError
from gyrobench.models import build
from gyrobench.models.deepgyro import load_keras_weights


def _write_keras_file(path, width=4, cin=5, seed=0, full_model=False):
    rng = np.random.default_rng(seed)
    c = [width * 2**i for i in range(5)]
    layers = [("input_1", None), ("input_2", None), ("concatenate_1", None)]
    n = 0

    def conv(i, o, k=3):
        nonlocal n
        n += 1
        return (f"conv2d_{n}", [rng.normal(size=(k, k, i, o)) * 0.1, rng.normal(size=o) * 0.1])

    layers += [conv(cin, c[0]), conv(c[0], c[0])]
    for lv in range(1, 5):
        layers += [(f"max_pooling2d_{lv}", None), conv(c[lv - 1], c[lv]), conv(c[lv], c[lv])]
    for lv in (3, 2, 1, 0):
        up = (
            f"conv2d_transpose_{4 - lv}",
            [rng.normal(size=(2, 2, c[lv], c[lv + 1])) * 0.1, rng.normal(size=c[lv])],
        )
        layers += [up, (f"zero_padding2d_{4 - lv}", None), (f"concatenate_{5 - lv}", None)]
        layers += [conv(2 * c[lv], c[lv]), conv(c[lv], c[lv])]
    layers.append(conv(c[0], 3, 1))
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if full_model else f
        root.attrs["layer_names"] = [name.encode() for name, _ in layers]
        for name, arrays in layers:
            g = root.create_group(name)
            wn = [] if arrays is None else [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            g.attrs["weight_names"] = wn
            for w, a in zip(wn, arrays or []):
                g.create_dataset(w.decode(), data=a.astype(np.float32))
    return dict(layers)


def _np_conv_same(x, k, b):
    """Keras Conv2D, channels-last, 'same' padding, stride 1: x (H, W, Ci), k (kh, kw, Ci, Co)."""
    kh, kw = k.shape[:2]
    xp = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(x.shape[:2] + (k.shape[3],))
    for a in range(kh):
        for c in range(kw):
            out += xp[a : a + x.shape[0], c : c + x.shape[1]] @ k[a, c]
    return out + b


def _np_conv_transpose_2x2(x, k, b):
    """Keras Conv2DTranspose 2x2 stride 2: x (H, W, Ci), k (2, 2, Co, Ci) -> (2H, 2W, Co)."""
    h, w, _ = x.shape
    out = np.zeros((2 * h, 2 * w, k.shape[2]))
    for a in range(2):
        for c in range(2):
            out[a::2, c::2] = x @ k[a, c].T
    return out + b


@pytest.mark.parametrize("full_model", [False, True])
def test_keras_layout_is_ported(tmp_path, full_model):
    path = tmp_path / "DeepGyro.hdf5"
    ref = _write_keras_file(path, full_model=full_model)
    model = load_keras_weights(build("deepgyro", width=4), path)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 10, 5))
    xt = torch.from_numpy(x.transpose(2, 0, 1))[None].float()
    got = model.enc1[0](xt)[0].detach().numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, _np_conv_same(x, *ref["conv2d_1"]), atol=1e-4)
    x64 = rng.normal(size=(3, 5, 64))  # input of up4 at width 4: 64 channels
    got = (
        model.up4(torch.from_numpy(x64.transpose(2, 0, 1))[None].float())[0]
        .detach()
        .numpy()
        .transpose(1, 2, 0)
    )
    np.testing.assert_allclose(got, _np_conv_transpose_2x2(x64, *ref["conv2d_transpose_1"]), atol=1e-4)
    out = model.out(torch.ones(1, 4, 2, 2))[0, :, 0, 0].detach().numpy()
    k, b = ref["conv2d_19"]  # 10 encoder + 8 decoder convs, then the 1x1 output
    np.testing.assert_allclose(out, k[0, 0].sum(0) + b, atol=1e-5)


def test_keras_mismatch_errors(tmp_path):
    path = tmp_path / "w.hdf5"
    _write_keras_file(path, width=4)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_keras_weights(build("deepgyro", width=8), path)
    ref = _write_keras_file(path, width=4, cin=3)
    with pytest.raises(CheckpointError, match="blind"):
        load_keras_weights(build("deepgyro", width=4), path)
    blind = build("deepgyro", width=4, blind=True)
    before = {k: v.clone() for k, v in blind.state_dict().items()}
    assert load_keras_weights(blind, path) is blind  # loaded in place
    # the blind file's 3-channel first conv and its 1x1 output conv are the model's, permuted (3, 2, 0, 1)
    for mod, name in ((blind.enc1[0], "conv2d_1"), (blind.out, "conv2d_19")):
        k, b = ref[name]
        np.testing.assert_array_equal(mod.weight.detach().numpy(), k.transpose(3, 2, 0, 1).astype(np.float32))
        np.testing.assert_array_equal(mod.bias.detach().numpy(), b.astype(np.float32))
    assert all(not torch.equal(v, before[k]) for k, v in blind.state_dict().items())  # every tensor replaced
    (tmp_path / "bad.hdf5").write_text("not hdf5")
    with pytest.raises(CheckpointError, match="HDF5"):
        load_keras_weights(build("deepgyro", width=4), tmp_path / "bad.hdf5")


def test_load_official_routes_deepgyro_to_keras_port(tmp_path):
    from gyrobench.models import load_official

    path = tmp_path / "DeepGyro.hdf5"
    _write_keras_file(path, width=4)
    model = load_official("deepgyro", path, width=4)
    ref = load_keras_weights(build("deepgyro", width=4), path)
    assert not model.training and model.options == ref.options
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_official("deepgyro", tmp_path / "missing.hdf5", width=4)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_official("deepgyro", path, width=8)
