"""``gyrobench eval`` over captures (issue 10 item 6): a folder of captures is a data source of the eval config
(``captures: DIR``), and the ``--captures`` flag is a shortcut to the same key (one code path)."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
import torch

from gyrobench.capture.format import load_capture
from gyrobench.capture.synthetic import make_synthetic_capture
from gyrobench.cli import main
from gyrobench.errors import RecipeError
from gyrobench.evaluate import EvalConfig, load_eval_config
from gyrobench.metrics import create_metric
from gyrobench.restore.score import GROUP_SPLIT


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """One synthetic 500x500 sRGB capture (demo camera x2, fitted hand-shake, 20 ms exposure, 10 ms readout)."""
    root = tmp_path_factory.mktemp("caps")
    make_synthetic_capture(root / "syn0", image=4, seed=2, exposure_ms=20, readout_ms=10.0, focal_scale=2.0)
    return root


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_config_file_and_flag_run_the_same_path(captures, tmp_path):
    cfg_path = tmp_path / "captures-eval.yaml"
    cfg_path.write_text(f"captures: {captures}\nmodel: classical\nlabel: classical\nmetrics: [niqe]\ncrops: 1\n")
    assert main(["eval", "--config", str(cfg_path), "--out", str(tmp_path / "from-config")]) == 0
    assert main(["eval", "--model", "classical", "--captures", str(captures), "--label", "classical",
                 "--metrics", "niqe", "--crops", "1", "--out", str(tmp_path / "from-flag")]) == 0
    a = json.loads((tmp_path / "from-config" / "results.json").read_text())
    b = json.loads((tmp_path / "from-flag" / "results.json").read_text())
    assert a["split"] == b["split"] == GROUP_SPLIT == "real captures (no reference)"
    assert a["protocol"] == "srgb8" and a["protocol_options"]["no_reference"] is True
    assert a["n_images"] == 1 and a["protocol_options"]["captures"]["synthetic"] == 1
    assert a["dataset_fingerprint"] == b["dataset_fingerprint"]
    ra, rb = _rows(tmp_path / "from-config" / "per_image.csv"), _rows(tmp_path / "from-flag" / "per_image.csv")
    assert ra[0]["sample_id"] == "syn0" and ra[0]["niqe"] == rb[0]["niqe"]
    assert np.isfinite(float(ra[0]["niqe"])) and a["metrics"]["niqe"]["mean"] == pytest.approx(float(ra[0]["niqe"]))
    assert "psnr" not in a["metrics"]  # no reference

    # the published group: the leaderboard ranks the rows under the captures heading
    assert main(["leaderboard", str(tmp_path / "from-config"), "--out", str(tmp_path / "lb")]) == 0
    assert "real captures (no reference)" in (tmp_path / "lb" / "table.md").read_text()


def test_identity_scores_the_photo_as_taken(captures, tmp_path):
    """Second computation: NIQE of the photo file itself, display-encoded 8-bit, created here."""
    assert main(["eval", "--model", "identity", "--captures", str(captures), "--metrics", "niqe",
                 "--crops", "0", "--out", str(tmp_path / "id")]) == 0
    got = float(_rows(tmp_path / "id" / "per_image.csv")[0]["niqe"])
    cap, folder = load_capture(captures / "syn0")
    photo = cv2.imread(str(folder / cap.image), cv2.IMREAD_UNCHANGED)[..., ::-1]  # 8-bit sRGB, RGB order
    assert photo.dtype == np.uint8
    x = torch.from_numpy(np.ascontiguousarray(photo, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    ref = float(create_metric("niqe", input_space="display")(x)[0])
    assert got == pytest.approx(ref, abs=1e-4)


def test_captures_config_is_validated(tmp_path, capsys):
    def load(text):
        p = tmp_path / "c.yaml"
        p.write_text(text)
        return load_eval_config(p)

    cfg = load("captures: caps\nmodel: identity\n")
    assert cfg.metrics == ("niqe", "topiq_nr") and cfg.out_dir().as_posix() == "runs/eval-captures/identity"
    with pytest.raises(RecipeError, match="c.yaml: EvalConfig: give exactly one data source.*not both"):
        load("captures: caps\ndata: d\nmodel: identity\n")
    with pytest.raises(RecipeError, match="'split' does not apply to captures"):
        load("captures: caps\nmodel: identity\nsplit: train\n")
    with pytest.raises(RecipeError, match="with captures give --checkpoint PATH or --model classical"):
        load("captures: caps\nmodel: nafnet\n")
    with pytest.raises(RecipeError, match="unknown key 'capture'"):
        load("capture: caps\nmodel: identity\n")
    assert EvalConfig(captures="c", model="classical", metrics=("niqe",)).metrics == ("niqe",)
    assert main(["eval", "--model", "identity", "--data", "d", "--captures", "c"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not both" in err
