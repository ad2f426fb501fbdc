"""On-the-fly synthesis (issue 9 item 3): a crop rendered from a patch with shifted intrinsics equals the full
frame rendered and cropped (the stored path's geometry); draws are a pure function of (seed, index); the trainer
runs on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gyrobench.builder.onthefly import OnTheFlyDataset, crop_margin, shifted_K
from gyrobench.train.online import OnlineSection


def _ds(**kw):
    online = OnlineSection(**{"images": "builtin:kodak", "strength": 1.0, "strength_max": 2.0, **kw})
    return OnTheFlyDataset(online, crop=64, seed=5, size=32)


def test_patch_render_equals_full_frame_render_cropped():
    from gyrobench.gyro.cmf import camera_motion_field
    from gyrobench.gyro.trajectory import pose_homographies
    from gyrobench.synth.blur import render_blur

    ds = _ds()
    for index in (0, 3):
        s = ds[index]
        d = s["meta"]["draws"]
        ox, oy = d["position"]
        # second computation: the whole 500x500 frame with the full-frame K, then the crop (stored path geometry)
        _, (_, _, win) = ds._draw(index)
        strength = d["strength"]
        w_cam = win.w @ win.R_imu_to_cam.T  # the window carries the sampler's strength
        assert 1.0 <= strength <= 2.0
        H, _ = pose_homographies(win.t_ns, w_cam, ds.K, substeps=d["substeps"], anchor="mid", M=8)
        full = ds._image(ds._paths[[p.name for p in ds._paths].index(d["image"])])
        frame = torch.from_numpy(np.ascontiguousarray(full.transpose(2, 0, 1)))[None]
        ref = render_blur(frame, torch.from_numpy(H)[None], crop=(ox, oy, 64, 64), sat_threshold=1.0)
        torch.testing.assert_close(s["sharp"], ref["sharp"][0], atol=1e-6, rtol=0)
        torch.testing.assert_close(s["blurred"], ref["blurred"][0], atol=2e-4, rtol=0)
        torch.testing.assert_close(s["sat_mask"], ref["sat_mask"][0], atol=2e-4, rtol=0)
        field = camera_motion_field(win.t_ns, w_cam, ds.K, crop=(ox, oy, 64, 64), M=8, layout="chw",
                                    dtype=np.float32)
        np.testing.assert_allclose(s["cmf_clean"].numpy(), field, atol=1e-3)
        assert s["cmf_noisy"].shape == s["cmf_clean"].shape and not torch.equal(s["cmf_noisy"], s["cmf_clean"])
        assert (s["blurred"] - s["sharp"]).abs().mean() > 1e-3  # it is blurred


def test_strength_is_the_samplers_own_and_applied_once(tmp_path):
    """Issue 24 item 3: the recipe's gyro strength (here on its first split, where the sampler takes its gyro
    from) does not compound with the sampler's: the windows are those of the plain recipe times ``strength``."""
    import yaml

    from gyrobench.builder.recipe import load_recipe

    d = yaml.safe_load(load_recipe("demo").text)
    d["splits"][0]["gyro"] = {"kind": "fitted", "strength": 3.0}
    strong = tmp_path / "strong.yaml"
    strong.write_text(yaml.safe_dump(d))
    plain = OnTheFlyDataset(OnlineSection(images="builtin:deadleaves", strength=0.7), crop=64, seed=2, size=4)
    other = OnTheFlyDataset(OnlineSection(recipe=str(strong), images="builtin:deadleaves", strength=0.7), crop=64,
                            seed=2, size=4)
    ref = OnTheFlyDataset(OnlineSection(images="builtin:deadleaves", strength=1.0), crop=64, seed=2, size=4)
    for i in (0, 1):
        w = plain._draw(i)[1][2].w
        np.testing.assert_array_equal(other._draw(i)[1][2].w, w)
        np.testing.assert_array_equal(w, 0.7 * ref._draw(i)[1][2].w)
        torch.testing.assert_close(plain[i]["blurred"], other[i]["blurred"], rtol=0, atol=0)


def test_shifted_K_and_margin():
    K = np.array([[500.0, 0, 250], [0, 500, 240], [0, 0, 1]])
    np.testing.assert_array_equal(shifted_K(K, 10, 20)[:2, 2], [240, 220])
    H = np.stack([np.eye(3)] * 3)
    H[1, 0, 2], H[2, 1, 2] = 7.0, -12.5  # pure translations: the margin is the largest shift
    assert crop_margin(H, (0, 0, 64, 64)) == pytest.approx(12.5)


def test_draws_are_a_function_of_seed_and_index():
    a, b = _ds(), _ds()
    s1, s2, s3 = a[4], b[4], a[5]
    for k in ("blurred", "sharp", "cmf_noisy"):
        assert torch.equal(s1[k], s2[k])
    assert not torch.equal(s1["blurred"], s3["blurred"])
    assert a.describe(4) == {k: v for k, v in s1["meta"]["draws"].items() if k not in ("margin", "substeps")}


def test_dead_leaves_source_and_no_fields():
    online = OnlineSection(images="builtin:deadleaves", deadleaves={"supersample": 1})
    ds = OnTheFlyDataset(online, crop=32, seed=1, size=4, fields=False)
    s = ds[0]
    assert s["blurred"].shape == (3, 32, 32) and "cmf_clean" not in s
    assert s["meta"]["draws"]["image"] == "deadleaves"


def test_bad_settings_raise():
    from gyrobench.errors import GyrobenchError

    with pytest.raises(ValueError):
        OnlineSection(strength=2.0, strength_max=1.0)
    with pytest.raises(ValueError):
        OnlineSection(deadleaves={"nope": 1})
    with pytest.raises(GyrobenchError):
        OnTheFlyDataset(OnlineSection(images="/nonexistent/folder"), crop=32, size=2)


def test_trainer_runs_on_the_fly_and_records_it(tmp_path):
    from gyrobench.train.trainer import train

    cfg = {"name": "otf", "model": {"name": "nafnet", "options": {"width": 8, "enc_blk_nums": [1], "middle_blk_num": 1,
                                                                   "dec_blk_nums": [1]}},
           "data": {"online": {"images": "builtin:deadleaves", "deadleaves": {"supersample": 1}}, "crop": 32},
           "schedule": {"batch_size": 2, "steps": 2, "lr": 1e-3, "warmup_steps": 1}, "device": "cpu",
           "logging": {"tensorboard": False, "image_every": 0, "log_every": 1}}
    res = train(cfg, tmp_path / "run", show_progress=False)
    assert res["steps"] == 2
    import json

    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["data"]["online"]["images"] == "builtin:deadleaves" and run["samples"] == 4


def test_deadleaves_fraction_mixes_procedural_images_into_files():
    # fraction 0 leaves every draw as it was: the image is the first draw of the sample's image stream, as before
    # the option existed (an extra draw at fraction 0 would shift it)
    zero = _ds(deadleaves_fraction=0.0)
    for i in range(8):
        r_img = zero._streams(i)[1][0]
        assert zero.describe(i)["image"] == zero._paths[int(r_img.integers(len(zero._paths)))].name
    # fraction 0.5: about half of 64 draws are procedural (binomial(64, 0.5): 20..44 with probability > 0.999)
    mix = _ds(deadleaves_fraction=0.5, deadleaves={"supersample": 1})
    names = [mix.describe(i)["image"] for i in range(64)]
    n_dl = names.count("deadleaves")
    assert 20 <= n_dl <= 44
    assert all(n.endswith(".png") for n in names if n != "deadleaves")
    i_dl = names.index("deadleaves")
    s = mix[i_dl]
    assert s["meta"]["draws"]["image"] == "deadleaves" and s["blurred"].shape == (3, 64, 64)
    assert mix._cache == {}  # no Kodak file was read for the procedural sample
    # fraction 1: every image procedural
    ones = _ds(deadleaves_fraction=1.0, deadleaves={"supersample": 1})
    assert {ones.describe(i)["image"] for i in range(8)} == {"deadleaves"}
    with pytest.raises(ValueError, match="deadleaves_fraction"):
        OnlineSection(images="builtin:kodak", deadleaves_fraction=1.5)
    with pytest.raises(ValueError, match="drop the fraction"):
        OnlineSection(images="builtin:deadleaves", deadleaves_fraction=0.5)


def test_dihedral_codes_are_the_eight_symmetries_of_the_square():
    from gyrobench.builder.onthefly import dihedral

    img = np.arange(4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)  # no symmetry: every transform differs
    # second computation: numpy's rotations of the image and of its mirror
    group = [np.rot90(img, k) for k in range(4)] + [np.rot90(img[:, ::-1], k) for k in range(4)]
    got = [dihedral(img, c) for c in range(8)]
    for g in group:
        assert sum(np.array_equal(g, x) for x in got) == 1
    assert np.array_equal(got[0], img)
    rect = np.arange(2 * 3).reshape(2, 3)
    for c in range(4):  # codes 0-3 keep the shape of a non-square image
        assert dihedral(rect, c).shape == (2, 3)
    with pytest.raises(ValueError, match="dihedral code"):
        dihedral(img, 8)


def test_dihedral_transforms_the_sharp_source_and_keeps_the_other_draws():
    from gyrobench.builder.onthefly import dihedral

    off, on = _ds(), _ds(dihedral=True)
    codes = []
    for i in range(64):
        a, b = off.describe(i), on.describe(i)
        assert "dihedral" not in a  # off draws nothing
        codes.append(b.pop("dihedral"))
        assert a == b  # image, strength, position, window: the same draws with the option on
    # seeded draws; for uniform codes P(one missing in 64) < 8 * (7/8)^64 = 1.5e-3
    assert set(codes) == set(range(8))
    # the rendered sample is the untransformed pipeline applied to the transformed source image
    i = next(i for i, c in enumerate(codes) if c in (5, 6))  # a code with a transpose and a flip
    s_on = on[i]
    path = on._paths[[p.name for p in on._paths].index(s_on["meta"]["draws"]["image"])]
    ref = _ds()
    ref._cache[str(path)] = np.ascontiguousarray(dihedral(ref._image(path), codes[i]))
    s_ref = ref[i]
    torch.testing.assert_close(s_on["sharp"], s_ref["sharp"], atol=0, rtol=0)
    torch.testing.assert_close(s_on["blurred"], s_ref["blurred"], atol=0, rtol=0)
    assert not torch.equal(s_on["sharp"], off[i]["sharp"])
    with pytest.raises(ValueError, match="drop dihedral"):
        OnlineSection(images="builtin:deadleaves", dihedral=True)


def test_the_source_names_the_split_it_takes_its_gyro_from(tmp_path):
    """Issue 24 item 3: ``data.online.gyro_split`` picks the recipe split whose gyro source the sampler draws from
    (default the first). Here the second split reads a recorded sequence of one constant rate, so every window of
    the sampler that names it is that rate times ``strength``; the default keeps the fitted hand-shake."""
    import yaml

    from gyrobench.builder.recipe import load_recipe
    from gyrobench.errors import RecipeError

    rate = (0.0, 0.0, 0.3)  # rad/s about the camera z axis
    t = np.arange(600) * 5_000_000  # 200 Hz, 3 s
    (tmp_path / "const.txt").write_text("".join(f"{ti} {rate[0]} {rate[1]} {rate[2]}\n" for ti in t))
    d = yaml.safe_load(load_recipe("demo").text)
    d["splits"][1]["gyro"] = {"kind": "files", "file": str(tmp_path / "const.txt")}
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(d))
    named = OnTheFlyDataset(OnlineSection(recipe=str(recipe), gyro_split="test", images="builtin:deadleaves",
                                          strength=0.5), crop=64, seed=2, size=4)
    first = OnTheFlyDataset(OnlineSection(recipe=str(recipe), images="builtin:deadleaves", strength=0.5), crop=64,
                            seed=2, size=4)
    assert named.gyro_split.name == "test" and first.gyro_split.name == "train"
    w = named._draw(0)[1][2].w
    np.testing.assert_allclose(w, np.broadcast_to(0.5 * np.asarray(rate), w.shape), atol=1e-9)
    assert np.ptp(first._draw(0)[1][2].w, axis=0).max() > 1e-3  # the fitted hand-shake varies
    with pytest.raises(RecipeError, match=r"gyro_split='val'.*splits: train, test"):
        OnTheFlyDataset(OnlineSection(recipe=str(recipe), gyro_split="val"), crop=64, size=2)
