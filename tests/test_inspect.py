"""gyrobench inspect: summary table, verification result, contact sheet."""

from __future__ import annotations

import json

import cv2
import pytest

from gyrobench.builder.pipeline import synthesize
from gyrobench.cli import main as cli_main
from gyrobench.data.inspect import summarize


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    out = tmp_path_factory.mktemp("insp")
    synthesize("smoke", out, limit=2)
    return out


def test_summary_table(ds, capsys):
    assert cli_main(["inspect", str(ds)]) == 0
    out = capsys.readouterr().out
    assert "verify    ok" in out and "train" in out and "test" in out
    for needle in ("blurred", "uint16", "gzip", "rad/s", "linear sRGB", "blur extent"):
        assert needle in out, needle


def test_summary_json_counts(ds, capsys):
    assert cli_main(["inspect", str(ds), "--json", "--no-verify"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["samples"] == 4 and s["splits"]["train"]["samples"] == 2 and "verification" not in s
    assert s["fields"]["sharp"]["shape"] == [48, 48, 3]
    e = s["splits"]["train"]["blur_extent_px"]
    assert 0 <= e["min"] <= e["p50"] <= e["max"]


def test_single_shard_and_sheet(ds, tmp_path):
    s = summarize(ds / "shard-00000.h5")
    assert s["samples"] == 2 and s["verification"].startswith("ok")
    png = tmp_path / "sheet.png"
    assert cli_main(["inspect", str(ds), "--sheet", str(png), "--samples", "3", "--split", "train"]) == 0
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] == 2 * (256 + 4)  # two train samples, one row each
    assert img.shape[1] >= 3 * 256  # sharp | blurred | field


def test_inspect_missing_path(tmp_path, capsys):
    assert cli_main(["inspect", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
