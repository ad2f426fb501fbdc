"""Issue 13 item 6: no traceback reaches the user from argument values.

The test walks the CLI's parser: every numeric option must have a range (``gyrobench.commands.args``), and each is
given values below and above it, NaN and infinity; every output path option is given a file in the way, a file
as parent, an over-long name and (file outputs) a folder. Each must end in exit status 2 with one error line.
"""

from __future__ import annotations

import argparse
import os

import pytest

from gyrobench.cli import build_parser, main
from gyrobench.commands.args import float_in, int_in

# the arguments a command needs besides the one under test (files need not exist: the bad value fails first)
REQUIRED = {
    ("cmf",): ["--gyro", "g.txt", "--start", "0", "--out", "o.npy"],
    ("plot-cmf",): ["--cmf", "f.npy", "--out", "o.png"],
    ("handshake", "fit"): ["g.txt", "--out", "o.json"],
    ("handshake", "sample"): ["--n", "10", "--out", "o.txt"],
    ("handshake", "stats"): [],
    ("synth",): ["smoke", "--out", "o"],
    ("inspect",): ["data"],
    ("import-gyroblur",): ["src", "--out", "o"],
    ("models",): [],
    ("train",): ["c.yaml"],
    ("eval",): ["--model", "identity", "--data", "d"],
    ("health",): ["c.pt", "--data", "d"],
    ("leaderboard",): ["r.json", "--out", "o"],
    ("demo",): [],
    ("study",): ["s.yaml"],
    ("capture", "import"): ["src", "--format", "csv", "--out", "o"],
    ("capture", "blur-field"): ["c", "--out", "o"],
    ("capture", "calibrate"): ["c", "--out", "o"],
    ("capture", "synth"): ["--out", "o"],
    ("infer",): ["--model", "classical", "--capture", "c"],
}


def _walk(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*prefix, name))
        else:
            yield prefix, action


def _numeric_options():
    out = []
    for cmd, action in _walk(build_parser()):
        if cmd and action.option_strings and (action.type in (int, float) or isinstance(action.type, (int_in, float_in))):
            out.append((cmd, action))
    return out


def test_every_numeric_option_has_a_range():
    unbounded = [f"{' '.join(c)} {a.option_strings[0]}" for c, a in _numeric_options() if a.type in (int, float)
                 and not a.choices]
    assert not unbounded, f"give these a range type (gyrobench.commands.args): {unbounded}"
    assert len(_numeric_options()) >= 20
    assert {c for c, _ in _numeric_options()} <= set(REQUIRED)


def _bad_values(t) -> list[str]:
    if isinstance(t, int_in):
        return [str(t.lo - 1), str(t.hi + 1), "nan", "inf", "1.5", "-1"]
    return [repr(t.lo) if t.open_lo else repr(t.lo - 1), repr(t.hi * 10 + 1), "nan", "inf", "-inf", "-1"]


CASES = [(cmd, a.option_strings[0], v) for cmd, a in _numeric_options() if not a.choices
         for v in _bad_values(a.type) if not (isinstance(a.type, int_in) and v == "-1" and a.type.lo <= -1)]


@pytest.mark.parametrize("cmd,option,value", CASES, ids=[f"{' '.join(c)}{o}={v}" for c, o, v in CASES])
def test_bad_numeric_values_are_refused_in_one_line(cmd, option, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*cmd, *REQUIRED[cmd], f"{option}={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"gyrobench: error: {' '.join(cmd)}: argument {option}: "), err
    assert "give " in err[0]
    assert not any(tmp_path.iterdir())  # refused before any work


def _path_options():
    out = []
    for cmd, action in _walk(build_parser()):
        if cmd and set(action.option_strings) & {"--out", "--sheet", "--publish"}:
            out.append((cmd, action.option_strings[0]))
    return out


FILE_OUTPUTS = {("cmf",), ("plot-cmf",), ("handshake", "fit"), ("handshake", "sample"), ("inspect",)}


@pytest.fixture()
def train_cfg(tmp_path):
    import yaml
    from test_train_support import tiny_config, write_tiny_dataset

    root = write_tiny_dataset(tmp_path / "tiny", n_train=4, n_test=2)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config(root, schedule={"steps": 1})))
    return path


@pytest.mark.parametrize("cmd,option", _path_options(), ids=[f"{' '.join(c)}{o}" for c, o in _path_options()])
def test_bad_output_paths_are_refused_in_one_line(cmd, option, tmp_path, monkeypatch, capsys, train_cfg):
    monkeypatch.chdir(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir()
    base = [str(train_cfg) if x == "c.yaml" else x for x in REQUIRED[cmd]]
    if option != "--out" and "--out" in base:  # keep the other output valid
        base[base.index("--out") + 1] = str(tmp_path / "ok")
    bad = [str(a_file / "x.png"), str(tmp_path / ("n" * 300 + ".png"))]
    bad.append(str(a_dir) if cmd in FILE_OUTPUTS else str(a_file))
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        bad.append(str(ro / "x.png"))
    for value in bad:
        argv = [*cmd, *base, option, value]
        if option == "--out" and "--out" in base:
            argv = [*cmd, *base[:base.index("--out")], *base[base.index("--out") + 2:], option, value]
        rc = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2, (argv, err)
        assert len(err) == 1 and err[0].startswith("gyrobench: error: ") and option in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a_file", "a_dir", "tiny", "c.yaml"]
                                                               + (["ro"] if os.geteuid() != 0 else []))
