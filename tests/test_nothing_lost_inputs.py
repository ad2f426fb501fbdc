"""Issue 23 items 7 and 8: bad input is one line (exit 2) before any work, never a traceback.

Binary garbage, alias bombs, out-of-range numbers in recipes, configs, suites, calibrations, photo lists and gyro
logs; and a fuzz test (hypothesis, random bytes) of those readers through the command line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_capture_import import write_gcsv

from gyrobench.cli import main
from gyrobench.errors import GyrobenchError

ROOT = Path(__file__).resolve().parents[1]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


@pytest.fixture(autouse=True)
def _fresh_log_handler():
    logging.getLogger("gyrobench").handlers.clear()
    yield
    logging.getLogger("gyrobench").handlers.clear()


def _run(capsys, argv) -> str:
    """Run the CLI; it must exit 2 with exactly one ``gyrobench: error:`` line and no traceback (nor any other
    output: refused before any work, nothing was logged)."""
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("gyrobench: error: "), (rc, err[-2000:])
    return lines[0]


# ---------------------------------------------------------------------------------------- binary garbage
GARBAGE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfa" + bytes(range(256))


@pytest.mark.parametrize("what", ["recipe", "train config", "calibration", "photo list", "gcsv"])
def test_binary_garbage_is_one_line_naming_the_file(tmp_path, capsys, what):
    src = tmp_path / "src"
    write_gcsv(src)
    bad = tmp_path / {"recipe": "r.yaml", "train config": "c.yaml", "calibration": "cal.yaml",
                      "photo list": "photos.csv", "gcsv": "log.gcsv"}[what]
    bad.write_bytes(GARBAGE)
    imp = ["capture", "import", str(src / "log.gcsv"), "--format", "gcsv", "--calibration", str(src / "calib.json"),
           "--photos", str(src / "photos.csv"), "--out", str(tmp_path / "o")]
    argv = {"recipe": ["synth", str(bad), "--out", str(tmp_path / "o")],
            "train config": ["train", str(bad), "--out", str(tmp_path / "o")],
            "calibration": [*imp[:5], str(bad), *imp[6:]],
            "photo list": [*imp[:7], str(bad), *imp[8:]],
            "gcsv": [*imp[:2], str(bad), *imp[3:]]}[what]
    line = _run(capsys, argv)
    assert str(bad) in line and ("UTF-8" in line or "binary" in line or "gcsv log" in line), line
    assert not (tmp_path / "o").exists()


def test_a_yaml_alias_bomb_is_refused_naming_the_file(tmp_path, capsys):
    for argv_of in (lambda p: ["synth", str(p), "--out", str(tmp_path / "o")],
                    lambda p: ["train", str(p), "--out", str(tmp_path / "o")],
                    lambda p: ["study", str(p), "--out", str(tmp_path / "o")]):
        bomb = tmp_path / "bomb.yaml"
        bomb.write_text(BOMB)
        line = _run(capsys, argv_of(bomb))
        assert str(bomb) in line and "alias" in line
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------------- numbers out of range
def _suite(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
    data.update(changes)
    p = tmp_path / "suite.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("changes,needle", [
    ({"seeds": [-1]}, "seeds: -1 is out of range"),
    ({"budget": {"rule": "time", "seconds": float("inf")}}, "seconds=inf"),
    ({"budget": {"rule": "steps", "steps": 10**12}}, "above the limit"),
    ({"runs": [{"label": "bad", "model": {"name": "nafnet", "options": {"width": -8}}}]}, "width=-8"),
])
def test_suite_values_are_refused_before_synthesis(tmp_path, capsys, changes, needle):
    line = _run(capsys, ["study", str(_suite(tmp_path, **changes)), "--out", str(tmp_path / "w")])
    assert needle in line
    assert not (tmp_path / "w" / "data").exists()  # before any synthesis


def test_a_seed_beyond_63_bits_is_one_line(tmp_path, capsys):
    line = _run(capsys, ["synth", "smoke", "--out", str(tmp_path / "o"), "--set", f"seed={10**29}"])
    assert "seed must be an integer from 0 to" in line and not (tmp_path / "o").exists()


def test_negative_width_in_a_train_config_is_one_line(tmp_path, capsys):
    from test_train_support import tiny_config, write_tiny_dataset

    data = write_tiny_dataset(tmp_path / "d", n_train=2, n_test=1)
    cfg = tiny_config(data)
    cfg["model"] = {"name": "nafnet", "options": {"width": -8}}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    assert "option width=-8 is negative" in _run(capsys, ["train", str(p), "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("tscale,needle", [("-0.001", "'tscale' is -0.001"), ("0", "'tscale' is 0.0"),
                                           ("nan", "'tscale' is nan")])
def test_gcsv_tscale_must_be_positive(tmp_path, capsys, tscale, needle):
    src = tmp_path / "src"
    write_gcsv(src)
    log = src / "log.gcsv"
    log.write_text(log.read_text().replace("tscale,0.001", f"tscale,{tscale}"))
    line = _run(capsys, ["capture", "import", str(log), "--format", "gcsv", "--calibration", str(src / "calib.json"),
                         "--photos", str(src / "photos.csv"), "--out", str(tmp_path / "o")])
    assert needle in line and "unsorted" not in line and "not sorted" not in line


def test_an_inverted_interval_in_a_record_is_one_line(tmp_path, capsys):
    from test_leaderboard import MODELS, _record

    recs = [_record(tmp_path / "results", i, *m) for i, m in enumerate(MODELS[:2])]
    data = json.loads(recs[1].read_text())
    m = data["metrics"]["psnr"]
    m["ci95"] = [m["ci95"][1], m["ci95"][0]]
    recs[1].write_text(json.dumps(data))
    assert "does not contain the mean" in _run(capsys, ["leaderboard", str(tmp_path / "results"),
                                                        "--out", str(tmp_path / "b")])


# ---------------------------------------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def gcsv_src(tmp_path_factory):
    src = tmp_path_factory.mktemp("fuzz") / "src"
    write_gcsv(src)
    return src


@pytest.mark.parametrize("target", ["recipe", "train config", "suite", "calibration", "photo list", "gcsv"])
@FUZZ
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_fuzz_readers_one_line_exit_2(gcsv_src, tmp_path_factory, capsys, target, data):
    work = tmp_path_factory.mktemp("f")
    ext = {"recipe": "r.yaml", "train config": "c.yaml", "suite": "s.yaml", "calibration": "cal.yaml",
           "photo list": "photos.csv", "gcsv": "log.gcsv"}[target]
    bad = work / ext
    bad.write_bytes(data)
    imp = ["capture", "import", str(gcsv_src / "log.gcsv"), "--format", "gcsv", "--calibration",
           str(gcsv_src / "calib.json"), "--photos", str(gcsv_src / "photos.csv"), "--out", str(work / "o")]
    argv = {"recipe": ["synth", str(bad), "--out", str(work / "o"), "--limit", "1"],
            "train config": ["train", str(bad), "--out", str(work / "o")],
            "suite": ["study", str(bad), "--out", str(work / "o"), "--plan"],
            "calibration": [*imp[:5], str(bad), *imp[6:]],
            "photo list": [*imp[:7], str(bad), *imp[8:]],
            "gcsv": [*imp[:2], str(bad), *imp[3:]]}[target]
    logging.getLogger("gyrobench").handlers.clear()
    _run(capsys, argv)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_gyro_and_csv_log_readers_raise_only_gyrobench_errors(tmp_path_factory, data):
    from gyrobench.capture.importers.csvlog import read_csv_gyro
    from gyrobench.gyro.recording import load_gyro

    work = tmp_path_factory.mktemp("g")
    p = work / "g.txt"
    p.write_bytes(data)
    for read in (load_gyro, read_csv_gyro):
        try:
            read(p)
        except GyrobenchError as exc:
            assert "\n" not in str(exc)


# ------------------------------------------------------------------------------ paths read from files
def test_recipe_and_suite_paths_stay_inside_their_folder(tmp_path, capsys):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "g.txt").write_text("root:x:0:0:never echoed\n")
    home = tmp_path / "home"
    home.mkdir()
    rec = yaml.safe_load((ROOT / "gyrobench" / "recipes" / "smoke.yaml").read_text())
    rec["sources"]["gyro"] = {"kind": "files", "file": "../secret/g.txt"}
    (home / "r.yaml").write_text(yaml.safe_dump(rec))
    line = _run(capsys, ["synth", str(home / "r.yaml"), "--out", str(tmp_path / "o")])
    assert "sources.gyro.file" in line and "outside its folder" in line and "root:x" not in line
    # the same file named explicitly on the command line is the user's choice: read (and refused as a gyro log,
    # without echoing its line)
    line = _run(capsys, ["synth", str(home / "r.yaml"), "--out", str(tmp_path / "o"),
                         "--set", "sources.gyro.file=../secret/g.txt"])
    assert "expected 4 columns" in line and "root:x" not in line
    suite = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
    suite["dataset"]["recipe"] = "../home/r.yaml"
    (secret / "s.yaml").write_text(yaml.safe_dump(suite))
    line = _run(capsys, ["study", str(secret / "s.yaml"), "--out", str(tmp_path / "w")])
    assert "dataset.recipe" in line and "outside its folder" in line
