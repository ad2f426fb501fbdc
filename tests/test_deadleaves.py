"""Dead-leaves training images (issue 9 item 2): determinism, the power law of the radii, coverage, range."""

from __future__ import annotations

import numpy as np
import pytest

from gyrobench.synth.deadleaves import DeadLeavesParams, dead_leaves, dead_leaves_linear, radius_samples


def test_same_seed_same_image_other_seed_other_image():
    a = dead_leaves((48, 40), np.random.default_rng(3))
    b = dead_leaves((48, 40), np.random.default_rng(3))
    c = dead_leaves((48, 40), np.random.default_rng(4))
    assert a.shape == (48, 40, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.05
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_radii_follow_the_power_law():
    """KS distance to the closed-form CDF F(r) = (r_min^(1-a) - r^(1-a)) / (r_min^(1-a) - r_max^(1-a))."""
    a, lo, hi = 3.0, 1.5, 60.0
    r = np.sort(radius_samples(np.random.default_rng(0), 20000, a, lo, hi))
    assert r.min() >= lo and r.max() <= hi
    cdf = (lo ** (1 - a) - r ** (1 - a)) / (lo ** (1 - a) - hi ** (1 - a))
    emp = np.arange(1, r.size + 1) / r.size
    assert np.max(np.abs(cdf - emp)) < 0.015  # KS 1 % critical value for n = 20000 is 0.0115


def test_images_have_edges_flat_regions_and_plausible_colours():
    imgs = [dead_leaves((96, 96), np.random.default_rng(s)) for s in range(6)]
    stack = np.stack(imgs)
    assert 0.3 < stack.mean() < 0.65  # sRGB-encoded, like photographs (Beta(2.2, 1.8) value, muted saturation)
    gx = np.abs(np.diff(stack, axis=2)).max(axis=-1)
    assert (gx > 0.2).mean() > 0.02  # occlusion edges
    assert (gx < 0.01).mean() > 0.3  # flat leaves
    # a sizeable share of coloured pixels (not greyscale)
    chroma = stack.max(-1) - stack.min(-1)
    assert (chroma > 0.1).mean() > 0.3


def test_linear_is_the_srgb_eotf_of_the_encoded_image():
    from gyrobench.color import srgb_to_linear

    enc = dead_leaves((32, 32), np.random.default_rng(1))
    lin = dead_leaves_linear((32, 32), np.random.default_rng(1))
    np.testing.assert_allclose(lin, srgb_to_linear(enc), atol=1e-6)


def test_bad_params_raise():
    with pytest.raises(ValueError):
        DeadLeavesParams(alpha=1.0)
    with pytest.raises(ValueError):
        dead_leaves((0, 10), np.random.default_rng(0))


def test_builtin_deadleaves_is_an_image_source_of_stored_recipes(tmp_path):
    """``sources.images: builtin:deadleaves`` synthesizes like files do; the images are a function of the seed."""
    import h5py

    from gyrobench.builder.pipeline import synthesize
    from gyrobench.builder.recipe import load_recipe
    from gyrobench.builder.sources import ProceduralImage, list_images, load_linear_image

    recipe = load_recipe("smoke", ["sources.images=builtin:deadleaves", "sources.gyro.strength=1.5"])
    imgs = list_images(recipe)
    assert isinstance(imgs[3], ProceduralImage) and imgs[3].name == "deadleaves-000003"
    a = load_linear_image(imgs[3], (64, 64), (48, 48))
    np.testing.assert_array_equal(a, load_linear_image(imgs[3], (64, 64), (48, 48)))
    assert a.shape == (64, 64, 3) and not np.array_equal(a, load_linear_image(imgs[4], (64, 64), (48, 48)))
    synthesize(recipe, tmp_path / "d", limit=2)
    with h5py.File(next((tmp_path / "d").glob("shard-*.h5")), "r") as f:
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in f["source_image"][:]]
        assert names[0].startswith("deadleaves-")
        assert f["sharp"][0].std() > 0
