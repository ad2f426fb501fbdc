"""Issue 23 ("Nothing lost, round two"): no command deletes or replaces what it did not make, a second process on
the same folder is refused, captures reference only files inside their folder, a full disk is one line.

Each test is a case of the issue (numbered as there) and fails without the fix: the user's file is deleted, the
folder is mixed, the command exits 0, or the output is a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_capture_import import write_gcsv
from test_leaderboard import MODELS, _record
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.cli import main
from gyrobench.folders import (
    MARKER,
    FolderError,
    Lock,
    check_folder,
    claim,
    folder_kind,
    lock_path,
    remove_owned,
)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the lock and swap tests assume Linux")


@pytest.fixture(autouse=True)
def _fresh_log_handler():
    """main() attaches its log handler to the stderr of the first test that calls it; start each test anew."""
    import logging

    logging.getLogger("gyrobench").handlers.clear()
    yield
    logging.getLogger("gyrobench").handlers.clear()


def _one_line(capsys, *needles) -> str:
    """The command's error: exactly one ``gyrobench: error:`` line, no traceback, naming every needle."""
    out = capsys.readouterr().err
    errors = [line for line in out.splitlines() if line.startswith("gyrobench: error: ")]
    assert len(errors) == 1 and "Traceback" not in out, out[-3000:]
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"), n_train=4, n_test=2)


def _cfg_file(tmp_path: Path, data: Path, **over) -> Path:
    cfg = tiny_config(data, **over)
    cfg["schedule"]["steps"] = cfg["schedule"].get("steps", 2) if "schedule" in over else 2
    p = tmp_path / "train.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


# --------------------------------------------------------------------------------------------- the rule itself
def test_the_rule_new_own_foreign_and_legacy(tmp_path):
    assert check_folder(tmp_path / "missing", "run") == "new"
    (tmp_path / "empty").mkdir()
    assert check_folder(tmp_path / "empty", "dataset") == "new"
    legacy = tmp_path / "legacy-board"  # written before markers: recognised by its files
    legacy.mkdir()
    for name in ("leaderboard.json", "table.md", "index.html"):
        (legacy / name).write_text("x")
    assert folder_kind(legacy) == "board" and check_folder(legacy, "board", replace=True) == "own"
    with pytest.raises(FolderError, match="holds a leaderboard made by 'gyrobench leaderboard'"):
        check_folder(legacy, "run")
    (legacy / "paper.tex").write_text("mine")
    with pytest.raises(FolderError, match="paper.tex"):
        check_folder(legacy, "board", replace=True)
    marked = tmp_path / "run"
    with claim(marked, "run"):
        assert json.loads((marked / MARKER).read_text())["kind"] == "run"
    (marked / "notes.txt").write_text("mine")  # a marked folder may hold the user's notes; --overwrite keeps them
    (marked / "metrics.jsonl").write_text("{}\n")
    assert check_folder(marked, "run") == "own"
    assert remove_owned(marked, "run") == ["metrics.jsonl"]
    assert sorted(p.name for p in marked.iterdir()) == [MARKER, "notes.txt"]


def test_the_committed_boards_are_recognised(repo_root):
    """``make demo`` (--publish leaderboard/demo) and the CPU study's --publish leaderboard/cpu-study rewrite
    folders written before markers existed."""
    assert check_folder(repo_root / "leaderboard" / "demo", "board", replace=True) == "own"
    assert check_folder(repo_root / "leaderboard" / "cpu-study", "study-board", replace=True) == "own"
    assert check_folder(repo_root / "leaderboard" / "real-captures-example", "board", replace=True) == "own"


def test_a_refused_claim_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError), claim(target, "run"):
        raise RuntimeError("the work failed")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------- 1. study --publish / --out board
def _smoke_suite(tmp_path: Path) -> Path:
    text = (ROOT / "studies" / "smoke.yaml").read_text()
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    rec = yaml.safe_load(text)["dataset"]["recipe"]
    if not Path(rec).is_absolute() and (ROOT / "studies" / rec).is_file():
        shutil.copy(ROOT / "studies" / rec, tmp_path / rec)
    return suite


def test_study_publish_onto_a_users_folder_is_refused_before_any_work(tmp_path, capsys):
    suite = _smoke_suite(tmp_path)
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "paper.tex").write_text("\\documentclass{article}")
    evalf = tmp_path / "evaldir"
    evalf.mkdir()
    (evalf / "results.json").write_text("{}")
    (evalf / "per_image.csv").write_text("sample_id\n")
    for target in (paper, evalf):
        before = _files(target)
        assert main(["study", str(suite), "--out", str(tmp_path / "work"), "--publish", str(target)]) == 2
        _one_line(capsys, str(target), "--publish")
        assert _files(target) == before
    assert not (tmp_path / "work").exists()  # refused before any work


def test_study_out_with_a_users_file_in_its_board_is_refused(tmp_path, capsys):
    suite = _smoke_suite(tmp_path)
    board = tmp_path / "work" / "board"  # a study ran here before (plan and board), then the user added notes
    board.mkdir(parents=True)
    (tmp_path / "work" / "plan.json").write_text("{}")
    (board / "study.json").write_text("{}")
    (board / "notes.md").write_text("mine")
    assert main(["study", str(suite), "--out", str(tmp_path / "work")]) == 2
    _one_line(capsys, "notes.md")
    assert (board / "notes.md").read_text() == "mine" and not (tmp_path / "work" / "data").exists()


def test_leaderboard_republish_keeps_a_users_file(tmp_path, capsys):
    recs = [_record(tmp_path / "results", i, *m) for i, m in enumerate(MODELS[:2])]
    out = tmp_path / "board"
    assert main(["leaderboard", *map(str, recs), "--out", str(out), "--no-plots"]) == 0
    assert json.loads((out / MARKER).read_text())["kind"] == "board"
    (out / "paper.tex").write_text("mine")
    assert main(["leaderboard", *map(str, recs), "--out", str(out), "--no-plots"]) == 2
    _one_line(capsys, "paper.tex")
    assert (out / "paper.tex").read_text() == "mine"


# ------------------------------------------------------------------------------ 2. capture import names
@pytest.mark.parametrize("name", ["...png", "..png"])
def test_capture_import_photo_names_stay_inside_out(tmp_path, name):
    d = write_gcsv(tmp_path / "src")
    shutil.move(d["image"], tmp_path / "src" / name)
    (tmp_path / "src" / "photos.csv").write_text(f"image,start_s,exposure_ms\n{name},1.0,20\n")
    sentinel = tmp_path / "capture.json"  # what '...png' used to overwrite: the parent of --out
    sentinel.write_text("mine")
    out = tmp_path / "out"
    assert main(["capture", "import", str(tmp_path / "src" / "log.gcsv"), "--format", "gcsv", "--calibration",
                 str(tmp_path / "src" / "calib.json"), "--photos", str(tmp_path / "src" / "photos.csv"),
                 "--out", str(out)]) == 0
    assert sentinel.read_text() == "mine" and not (out / "capture.json").exists()
    made = [p for p in out.iterdir() if p.name != MARKER]
    assert [p.name for p in made] == ["capture"] and (made[0] / "capture.json").is_file()


def test_capture_import_refuses_to_replace_a_capture_and_a_photo_list_path_outside(tmp_path, capsys):
    d = write_gcsv(tmp_path / "src")
    args = ["capture", "import", str(tmp_path / "src" / "log.gcsv"), "--format", "gcsv", "--calibration",
            str(tmp_path / "src" / "calib.json"), "--photos", str(tmp_path / "src" / "photos.csv"),
            "--out", str(tmp_path / "out")]
    assert main(args) == 0
    before = _files(tmp_path / "out")
    assert main(args) == 2
    _one_line(capsys, "already holds a capture named 'shot'", "--overwrite")
    assert _files(tmp_path / "out") == before
    assert main([*args, "--overwrite"]) == 0
    outside = tmp_path / "elsewhere.jpg"
    shutil.copy(d["image"], outside)
    (tmp_path / "src" / "photos.csv").write_text("image,start_s,exposure_ms\n../elsewhere.jpg,1.0,20\n")
    assert main([*args[:-2], "--out", str(tmp_path / "out2")]) == 2
    _one_line(capsys, "photos.csv: line 2", "outside its folder")


# --------------------------------------------------------------------------------- 3. train into a dataset
def test_train_refuses_a_dataset_folder_and_overwrite_keeps_it(tiny, tmp_path, capsys):
    ds = tmp_path / "ds"
    shutil.copytree(tiny, ds)
    before = _files(ds)
    cfg = _cfg_file(tmp_path, tiny)
    for extra in ([], ["--overwrite"]):
        assert main(["train", str(cfg), "--out", str(ds), *extra]) == 2
        _one_line(capsys, str(ds), "holds a dataset made by 'gyrobench synth'")
        assert _files(ds) == before


def test_train_overwrite_removes_only_the_runs_files(tiny, tmp_path):
    cfg = _cfg_file(tmp_path, tiny)
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    assert main(["train", str(cfg), "--out", str(out), "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "checkpoints" / "last.pt").is_file()


# ------------------------------------------------------------------------------ 4. capture.json paths
def _one_capture(tmp_path: Path) -> Path:
    write_gcsv(tmp_path / "src")
    assert main(["capture", "import", str(tmp_path / "src" / "log.gcsv"), "--format", "gcsv", "--calibration",
                 str(tmp_path / "src" / "calib.json"), "--photos", str(tmp_path / "src" / "photos.csv"),
                 "--out", str(tmp_path / "caps")]) == 0
    return tmp_path / "caps" / "shot"


@pytest.mark.parametrize("field,value", [("gyro", "/etc/passwd"), ("image", "../elsewhere.png"),
                                         ("gyro", "../../secret.txt")])
def test_capture_json_names_only_files_inside_its_folder(tmp_path, capsys, field, value):
    cap = _one_capture(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the first line must never be echoed\n")
    (tmp_path / "caps" / "elsewhere.png").write_bytes((cap / "image.jpg").read_bytes())
    data = json.loads((cap / "capture.json").read_text())
    data[field] = value
    (cap / "capture.json").write_text(json.dumps(data))
    assert main(["infer", "--model", "classical", "--capture", str(cap), "--out", str(tmp_path / "r")]) == 2
    err = _one_line(capsys, f"field '{field}'", "inside the capture folder")
    assert "root:x" not in err and not (tmp_path / "r").exists()


# ------------------------------------------------------------------------ 5. overwrite, races, replacements
def test_synth_overwrite_keeps_files_that_are_not_the_datasets(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["synth", "smoke", "--out", str(out), "--limit", "1"]) == 0
    (out / "paper.tex").write_text("mine")
    assert main(["synth", "smoke", "--out", str(out), "--limit", "1", "--set", "seed=5", "--overwrite"]) == 2
    _one_line(capsys, "paper.tex", "move it out")
    assert (out / "paper.tex").read_text() == "mine"


def test_a_second_process_on_the_same_folder_is_refused(tiny, tmp_path, capsys):
    """The lock of a folder held by another live process (here: the parent of this test process)."""
    cfg = _cfg_file(tmp_path, tiny)
    out = tmp_path / "run"
    lock = lock_path(out)
    lock.write_text(f"{os.getppid()}\n")
    assert main(["train", str(cfg), "--out", str(out)]) == 2
    _one_line(capsys, "another gyrobench process", str(os.getppid()))
    assert main(["synth", "smoke", "--out", str(out), "--limit", "1"]) == 2
    _one_line(capsys, "another gyrobench process")
    assert not out.exists()
    lock.write_text("999999999\n")  # a stale lock (no such process) is taken over
    assert main(["train", str(cfg), "--out", str(out)]) == 0 and not lock.exists()
    assert Lock(lock).acquire(wait=False)


def test_eval_out_keeps_another_models_record_and_limit_leaves_no_old_files(smoke_data, tmp_path, capsys):
    out = tmp_path / "ev"
    base = ["eval", "--data", str(smoke_data), "--metrics", "psnr", "--out", str(out), "--crops", "0"]
    assert main([*base, "--model", "identity", "--save-images"]) == 0
    before = _files(out)
    assert main([*base, "--model", "classical"]) == 2
    _one_line(capsys, "another evaluation", "--overwrite")
    assert _files(out) == before
    assert main([*base, "--model", "identity", "--limit", "1"]) == 0  # the same evaluation, smaller: replaced whole
    rec = json.loads((out / "results.json").read_text())
    assert rec["n_images"] == 1 and not (out / "restored").exists()
    assert main([*base, "--model", "classical", "--overwrite"]) == 0


def test_capture_synth_and_infer_refuse_to_replace_their_outputs(tmp_path, capsys):
    cap = _one_capture(tmp_path)
    out = tmp_path / "r"
    args = ["infer", "--model", "classical", "--capture", str(cap), "--out", str(out)]
    assert main(args) == 0
    before = _files(out)
    assert main(args) == 2
    _one_line(capsys, "already holds a restoration", "--overwrite")
    assert _files(out) == before
    assert main([*args, "--overwrite"]) == 0
    assert main(["capture", "synth", "--out", str(cap)]) == 2  # an imported capture is not replaced
    _one_line(capsys, "already holds a capture", "--overwrite")
    assert main(["infer", "--model", "classical", "--capture", str(cap), "--out", str(tmp_path / "caps")]) == 2
    _one_line(capsys, "imported captures")


def test_demo_refuses_a_dataset_folder_and_a_non_board_publish_before_any_work(tmp_path, capsys):
    ds = tmp_path / "ds"
    assert main(["synth", "smoke", "--out", str(ds), "--limit", "1"]) == 0
    before = _files(ds)
    assert main(["demo", "--quick", "--out", str(ds)]) == 2
    _one_line(capsys, "holds a dataset")
    assert _files(ds) == before
    pub = tmp_path / "pub"
    pub.mkdir()
    (pub / "paper.tex").write_text("mine")
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--publish", str(pub)]) == 2
    _one_line(capsys, "--publish", str(pub))
    assert not (tmp_path / "demo").exists()  # refused before synthesis


# ------------------------------------------------------------------------------------------ 7. full disk
def test_synth_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import gyrobench.io as gio

    monkeypatch.setattr(gio.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    out = tmp_path / "ds"
    assert main(["synth", "smoke", "--out", str(out), "--limit", "1"]) == 2
    _one_line(capsys, "No space left on device while writing", "shard-", "free ")
    assert [p.name for p in out.iterdir()] == [MARKER] if out.exists() else True
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith((".gyrobench-tmp", ".shard-"))]
    monkeypatch.undo()
    assert main(["synth", "smoke", "--out", str(out), "--limit", "1"]) == 0  # after space is freed: completes


def test_train_on_a_full_disk_is_one_line(tiny, tmp_path, capsys, monkeypatch):
    import torch

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    out = tmp_path / "run"
    assert main(["train", str(_cfg_file(tmp_path, tiny)), "--out", str(out)]) == 2
    _one_line(capsys, "No space left on device while writing", "last.pt", "free ")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_an_enospc_anywhere_is_the_disk_full_line(tmp_path, capsys, monkeypatch):
    import gyrobench.commands.leaderboard as lb

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.json"))

    monkeypatch.setattr(lb, "run", full)
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    _one_line(capsys, f"No space left on device while writing {tmp_path / 'x.json'}; free ")


# ----------------------------------------------------------------------------------- 6. accepted nonsense
def test_a_checkpoint_with_nan_weights_is_refused(tiny, tmp_path, capsys):
    import torch

    from gyrobench.train.checkpoint import load_checkpoint, save_checkpoint

    cfg = _cfg_file(tmp_path, tiny)
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 0
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    key = next(k for k, v in ck["state_dict"].items() if v.is_floating_point())
    ck["state_dict"][key] = torch.full_like(ck["state_dict"][key], float("nan"))
    save_checkpoint(tmp_path / "nan.pt", **{k: v for k, v in ck.items() if k != "format"})
    assert main(["eval", "--checkpoint", str(tmp_path / "nan.pt"), "--data", str(tiny), "--metrics", "psnr",
                 "--out", str(tmp_path / "ev")]) == 2
    _one_line(capsys, "nan.pt", key, "NaN or infinite")


@pytest.mark.parametrize("change,needle", [
    (lambda m: m.update(mean=float("inf")), "metrics.psnr.mean' is inf"),
    (lambda m: m.update(ci95=[m["mean"] + 1, m["mean"] - 1]), "does not contain the mean"),
])
def test_records_with_infinite_or_inverted_numbers_are_refused(tmp_path, capsys, change, needle):
    recs = [_record(tmp_path / "results", i, *m) for i, m in enumerate(MODELS[:2])]
    data = json.loads(recs[0].read_text())
    change(data["metrics"]["psnr"])
    recs[0].write_text(json.dumps(data))  # json writes Infinity
    assert main(["leaderboard", *map(str, recs), "--out", str(tmp_path / "b")]) == 2
    _one_line(capsys, str(recs[0]), needle)
    assert not (tmp_path / "b").exists()


def test_a_swapped_photo_is_refused(tmp_path, capsys):
    cap = _one_capture(tmp_path)
    img = cap / "image.jpg"
    arr = np.frombuffer(img.read_bytes(), np.uint8).copy()
    import cv2

    pic = cv2.imdecode(arr, cv2.IMREAD_COLOR)
    cv2.imwrite(str(img), 255 - pic)  # same size, other content
    assert main(["infer", "--model", "classical", "--capture", str(cap), "--out", str(tmp_path / "r")]) == 2
    _one_line(capsys, "image.jpg", "sha256", "re-import")


def test_a_gyro_sample_beyond_any_sensor_is_refused(tmp_path, capsys):
    from gyrobench.errors import GyroFormatError
    from gyrobench.gyro.recording import load_gyro

    t = 5_000_000_000 + np.arange(50) * 5_000_000
    w = np.zeros((50, 3))
    w[20, 1] = 1e300
    p = tmp_path / "g.txt"
    p.write_text("\n".join(f"{a} {b!r} {c!r} {d!r}" for a, (b, c, d) in zip(t.tolist(), w.tolist())) + "\n")
    with pytest.raises(GyroFormatError, match=r"line 21: angular speed inf rad/s is beyond any gyroscope's range"):
        load_gyro(p)



def test_a_killed_imports_staging_folder_is_removed_by_the_next_import(tmp_path):
    out = tmp_path / "caps"
    stale = out / ".gyrobench-tmp-import-999999999-abc" / "shot"
    stale.mkdir(parents=True)
    (stale / "capture.json").write_text("{}")
    _one_capture(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "shot"]
