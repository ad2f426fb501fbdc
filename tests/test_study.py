"""The study runner (``gyrobench study``): suite validation, budget rules, curves, end to end, determinism, resume."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil

import pytest
import torch
import yaml

from gyrobench.cli import main as cli_main
from gyrobench.config import from_dict
from gyrobench.errors import RecipeError
from gyrobench.study import load_suite, parse_suite, plan_budget, run_study
from gyrobench.study.curves import train_times
from gyrobench.train.config import TrainConfig

COMMAND = "gyrobench study studies/smoke.yaml"


def _suite_dict(repo_root) -> dict:
    return yaml.safe_load((repo_root / "studies" / "smoke.yaml").read_text())


# ------------------------------------------------------------------------------------------- suite checks
@pytest.mark.parametrize("mutate, expect", [
    (lambda d: d.update(budgett={"rule": "steps", "steps": 3}), "unknown key 'budgett' (did you mean 'budget'?)"),
    (lambda d: d["dataset"].update(validaton={}), "unknown key 'dataset.validaton'"),
    (lambda d: d["runs"][0].update(lable="x"), "unknown key 'runs[0].lable'"),
    (lambda d: d["runs"][0]["model"].update(optons={}), "runs[0] (NAFNet tiny): unknown key 'model.optons'"),
    (lambda d: d["defaults"]["schedule"].update(lr="fast"), "schedule.lr: expected a number"),
    (lambda d: d.update(budget={"rule": "gmacs"}), "rule 'gmacs' needs exactly one of"),
    (lambda d: d["dataset"]["validation"].update(split="test"), "also a test split"),
    (lambda d: d["runs"][1].update(label="NAFNet tiny"), "labels must be unique"),
])
def test_bad_suite_is_one_clear_line(repo_root, tmp_path, capsys, mutate, expect):
    d = _suite_dict(repo_root)
    mutate(d)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(RecipeError, match="bad.yaml"):
        load_suite(path)
    assert cli_main(["study", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("gyrobench: error: ") and expect in err, err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_run_sections_reach_the_train_config_unchanged(repo_root):
    from gyrobench.study import train_mapping

    d = _suite_dict(repo_root)
    d["runs"][0]["data"] = {"crop": 16, "anything_the_loader_knows": 1}
    d["runs"][0]["schedule"] = {"lr": 1e-3, "steps": 999}
    with pytest.raises(RecipeError, match="anything_the_loader_knows"):  # validated by TrainConfig itself
        parse_suite(d, "s.yaml")
    del d["runs"][0]["data"]["anything_the_loader_knows"]
    s = parse_suite(d, "s.yaml")
    cfg = train_mapping(s, 0, seed=7, steps=12, data_root="DATA")
    assert cfg["data"] == {"crop": 16, "workers": 0, "root": "DATA"}  # run over defaults, root added
    assert cfg["schedule"] == {"batch_size": 2, "lr": 1e-3, "lr_min": 1e-6, "steps": 12}  # budget replaces steps
    assert cfg["model"] == d["runs"][0]["model"] and cfg["degradation"] == "gyrodeblurnet_official"
    assert cfg["seed"] == 7 and cfg["curriculum"] is False
    assert cfg["logging"]["checkpoint_every"] == 2 and cfg["logging"]["keep_checkpoints"] is True


def test_gpu_suite_parses(repo_root):
    s = load_suite(repo_root / "studies" / "gpu.yaml")
    assert s.device == "cuda" and s.budget.rule in ("steps", "time", "gmacs")
    gdn = [r for r in s.runs if r.model["name"] == "gyrodeblurnet"]
    assert gdn and not gdn[0].model.get("options")  # the full-size official configuration
    assert (repo_root / "benchmarks" / "gpu_study.sh").is_file()


# ------------------------------------------------------------------------------------------- budget rules
class _Conv(torch.nn.Module):
    """3 -> 3 channels, one 3x3 conv: c*c*3*3*9 = 81 c^2 MACs on a c x c crop."""

    uses_gyro = False

    def __init__(self, hidden: int = 0):
        super().__init__()
        self.hidden = hidden
        if hidden:  # 3 -> h -> 3: c^2 * (h*3*9 + 3*h*9) = 54 h c^2 MACs
            self.net = torch.nn.Sequential(torch.nn.Conv2d(3, hidden, 3, padding=1),
                                           torch.nn.Conv2d(hidden, 3, 3, padding=1))
        else:
            self.net = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, batch):
        return self.net(batch["blurred"])


@pytest.fixture
def conv_models(monkeypatch):
    from gyrobench.models import registry

    registry._ensure_loaded()
    for name, hidden in (("test_conv", 0), ("test_conv8", 8)):
        cls = type(name, (_Conv,), {"__init__": lambda self, hidden=hidden: _Conv.__init__(self, hidden)})
        monkeypatch.setitem(registry._REGISTRY, name, registry.ModelInfo(name, cls, False, True, "", "test"))


def _budget_suite(repo_root, budget, crops=(32, 48), batches=(2, 4)):
    d = _suite_dict(repo_root)
    d["budget"] = budget
    d["runs"] = [{"label": "a", "model": {"name": "test_conv"}, "data": {"crop": crops[0]},
                  "schedule": {"batch_size": batches[0]}},
                 {"label": "b", "model": {"name": "test_conv8"}, "data": {"crop": crops[1]},
                  "schedule": {"batch_size": batches[1]}}]
    return parse_suite(d, "budget.yaml")


def test_budget_rules_closed_form(repo_root, conv_models):
    s = _budget_suite(repo_root, {"rule": "steps", "steps": 37})
    assert [p["steps"] for p in plan_budget(s)] == [37, 37]

    g_a, g_b = 81 * 32**2 / 1e9, 54 * 8 * 48**2 / 1e9  # forward GMACs of one crop, by hand
    G = 0.05
    s = _budget_suite(repo_root, {"rule": "gmacs", "gmac_steps": G})
    plans = plan_budget(s)
    assert plans[0]["gmacs_per_crop"] == pytest.approx(g_a) and plans[1]["gmacs_per_crop"] == pytest.approx(g_b)
    assert [p["steps"] for p in plans] == [math.floor(G / (g_a * 2)), math.floor(G / (g_b * 4))]
    assert [p["steps"] for p in plans] == [301, 12]

    s = _budget_suite(repo_root, {"rule": "gmacs", "reference": "b", "steps": 10})
    plans = plan_budget(s)
    assert [p["steps"] for p in plans] == [math.floor(g_b * 4 * 10 / (g_a * 2)), 10] == [240, 10]

    s = _budget_suite(repo_root, {"rule": "time", "seconds": 60})
    plans = plan_budget(s, seconds_per_step=lambda i: [0.25, 0.7][i])
    assert [p["steps"] for p in plans] == [240, 85]
    assert all(p["seconds"] == 60 for p in plans)


# ----------------------------------------------------------------------------------- training time curve
def test_train_times_follow_a_resumed_run(tmp_path):
    lines = [{"step": s, "train_s": 1.0 * s} for s in range(1, 6)]  # killed after step 5
    lines += [{"step": s, "train_s": 2.0 * (s - 4)} for s in range(5, 9)]  # resumed from the step-4 checkpoint
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    t = train_times(path, checkpoint_every=2)
    assert t == {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 6.0, 6: 8.0, 7: 10.0, 8: 12.0}


# ------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory, repo_root):
    out = tmp_path_factory.mktemp("study") / "a"
    summary = run_study(repo_root / "studies" / "smoke.yaml", out, command=COMMAND, workers=1)
    return out, summary


def _table_rows(board):
    return list(csv.DictReader(io.StringIO((board / "table.csv").read_text())))


@pytest.mark.slow
def test_smoke_study_end_to_end(smoke_study, capsys):
    out, summary = smoke_study
    board = out / "board"
    rows = {r["label"]: r for r in _table_rows(board)}
    assert set(rows) == {"NAFNet tiny", "DeepGyro tiny", "DeepGyro tiny (shuffled fields)",
                         "classical (per-tile Wiener)", "blurred input"}
    for r in rows.values():
        assert r["split"] == "test" and float(r["psnr_mean"]) > 5 and r["command"] == COMMAND
    assert rows["NAFNet tiny"]["steps"] == "4" and rows["NAFNet tiny"]["budget_rule"] == "steps"
    assert rows["DeepGyro tiny (shuffled fields)"]["test_fields"] == "shuffled"
    md = (board / "table.md").read_text()
    assert f"Command: `{COMMAND}`" in md and "equal optimizer steps: 4 steps per run" in md
    # per-bin cells: image counts add up to the split
    n_bins = sum(1 for k in rows["blurred input"] if k.endswith("_images"))
    assert sum(int(rows["blurred input"][f"bin{j}_images"]) for j in range(n_bins)) == 3
    # learning curve: validation at steps 2 and 4, increasing training time
    curve = json.loads((out / "runs" / "nafnet-tiny" / "seed-1" / "curve.json").read_text())
    assert [p["step"] for p in curve] == [0, 2, 4] and curve[0]["train_s"] == 0
    assert 0 < curve[1]["train_s"] < curve[2]["train_s"]
    assert (board / "curves.png").stat().st_size > 1000
    # step 0 of the curve is the trainer's own initial model
    from gyrobench.train.checkpoint import load_checkpoint
    from gyrobench.train.trainer import Trainer

    unit = json.loads((out / "runs" / "nafnet-tiny" / "seed-1" / "unit.json").read_text())
    init = load_checkpoint(out / "runs" / "nafnet-tiny" / "seed-1" / "checkpoints" / "step-0000000.pt")
    trainer = Trainer(from_dict(TrainConfig, unit["config"]), out / "scratch", show_progress=False)
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, init["state_dict"][k]), k
    for name in ("table.md", "table.csv", "table.tex", "index.html"):
        assert (board / "leaderboard" / name).is_file()
    # a published checkpoint re-evaluates its row with `gyrobench eval`
    ck = board / "checkpoints" / "nafnet-tiny-s1.pt"
    assert ck.is_file() and ck.stat().st_size < 10e6
    from gyrobench.provenance import sha256_file

    assert sha256_file(ck) == rows["NAFNet tiny"]["checkpoint_sha256"]
    assert cli_main(["eval", "--checkpoint", str(ck), "--data", str(out / "data"), "--split", "test",
                     "--metrics", "psnr,ssim", "--out", str(out / "reeval"), "--crops", "0"]) == 0
    rec = json.loads((out / "reeval" / "results.json").read_text())
    assert rec["metrics"]["psnr"]["mean"] == pytest.approx(float(rows["NAFNet tiny"]["psnr_mean"]), abs=1e-9)


@pytest.mark.slow
def test_same_suite_and_seed_give_byte_identical_tables(smoke_study, tmp_path, repo_root):
    out_a, _ = smoke_study
    out_b = tmp_path / "b"  # another folder: data synthesized again, every run retrained
    run_study(repo_root / "studies" / "smoke.yaml", out_b, command=COMMAND, workers=1)
    for name in ("table.md", "table.csv"):
        assert (out_b / "board" / name).read_bytes() == (out_a / "board" / name).read_bytes(), name


@pytest.mark.slow
def test_resume_reruns_only_the_unfinished_run(smoke_study, tmp_path, repo_root):
    out_a, _ = smoke_study
    out = tmp_path / "c"
    shutil.copytree(out_a, out)
    # simulate a study killed while DeepGyro trained: its last checkpoint is step 2, nothing after it
    dg = out / "runs" / "deepgyro-tiny" / "seed-1"
    shutil.copyfile(dg / "checkpoints" / "step-0000002.pt", dg / "checkpoints" / "last.pt")
    for p in [dg / "checkpoints" / "step-0000004.pt", dg / "final.pt", dg / "curve.json"]:
        p.unlink()
    shutil.rmtree(dg / "eval")
    shutil.rmtree(dg / "val")
    state = json.loads((dg / "unit.json").read_text())
    for k in ("final_sha256", "steps", "train_s", "stopped_by_time"):
        state.pop(k)
    (dg / "unit.json").write_text(json.dumps(state))
    shutil.rmtree(out / "board")
    naf = out / "runs" / "nafnet-tiny" / "seed-1"
    before = {p: p.stat().st_mtime_ns for p in [naf / "final.pt", naf / "eval" / "test" / "results.json",
                                                 naf / "checkpoints" / "last.pt"]}
    run_study(repo_root / "studies" / "smoke.yaml", out, command=COMMAND, workers=1)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # the finished run was not touched
    assert not list(naf.glob("run.resume-*.json"))
    assert (dg / "run.resume-2.json").is_file()  # the unfinished one resumed from its step-2 checkpoint
    for name in ("table.md", "table.csv"):  # and ended exactly where the uninterrupted study did
        assert (out / "board" / name).read_bytes() == (out_a / "board" / name).read_bytes(), name


@pytest.mark.slow
def test_shuffled_and_zero_fields_reach_a_gyro_model(smoke_study, tmp_path):
    from gyrobench.evaluate import EvalConfig, evaluate

    out, _ = smoke_study
    res = {}
    for field in ("noisy", "shuffled", "zero"):
        path = evaluate(EvalConfig(model="classical", data=str(out / "data"), out=str(tmp_path / field), split="test",
                                   metrics=("psnr",), gyro_field=field, crops=0))
        rec = json.loads(path.read_text())
        assert rec["protocol_options"]["gyro_field"] == field
        res[field] = rec["metrics"]["psnr"]["mean"]
    assert res["shuffled"] != res["noisy"] and res["zero"] != res["noisy"]


def test_plan_text_states_steps_and_estimated_minutes(repo_root):
    from gyrobench.study.runner import plan_text

    d = _suite_dict(repo_root)
    d["seeds"] = [1, 2, 3]
    s = parse_suite(d, "s.yaml")
    figs = {r.label: {"params": 1000, "gmacs_per_crop": 0.5, "crop": 32} for r in s.runs}
    text = plan_text(s, [{"steps": 5}, {"steps": 4}], figs, [2.0, 30.0])
    lines = [x for x in text.splitlines() if x.startswith("| NAFNet") or x.startswith("| DeepGyro")]
    # 5 steps x 2 s x 3 seeds = 0.5 min, validation at steps 0, 2, 4, 5; 4 x 30 s x 3 = 6 min at 0, 2, 4
    assert lines[0].endswith("| 5 | 2.000 | 0.5 | 4 |") and lines[1].endswith("| 4 | 30.000 | 6.0 | 3 |")
    assert "Total training: 6.5 min" in text


def test_lock_is_exclusive_and_stale_locks_are_taken_over(tmp_path):
    import subprocess
    import sys

    from gyrobench.study.runner import _Lock

    mine = _Lock(tmp_path / "a.lock")
    assert mine.acquire(wait=False) and (tmp_path / "a.lock").read_text().split()[0].isdigit()
    mine.release()
    assert not (tmp_path / "a.lock").exists()
    (tmp_path / "b.lock").write_text("1\n")  # held by a live process (pid 1)
    assert not _Lock(tmp_path / "b.lock").acquire(wait=False)
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    (tmp_path / "c.lock").write_text(f"{done.pid}\n")  # its process has exited: stale, taken over
    assert _Lock(tmp_path / "c.lock").acquire(wait=False)


@pytest.mark.slow
def test_republishing_replaces_the_whole_board(smoke_study, tmp_path, repo_root):
    """The board is swapped in as one folder: a file of an earlier publication (here a stray checkpoint and
    crop folder) does not survive a republication, and the tables are unchanged."""
    out_a, _ = smoke_study
    out = tmp_path / "d"
    shutil.copytree(out_a, out)
    board = out / "board"
    before = {n: (board / n).read_bytes() for n in ("table.md", "table.csv")}
    (board / "checkpoints" / "old-run-s1.pt").write_bytes(b"stale")
    (board / "records" / "stale-eval").mkdir(parents=True)
    run_study(repo_root / "studies" / "smoke.yaml", out, command=COMMAND, workers=1)  # resume: publish only
    assert not (board / "checkpoints" / "old-run-s1.pt").exists()
    assert not (board / "records" / "stale-eval").exists()
    assert {n: (board / n).read_bytes() for n in before} == before
    assert (board / "checkpoints" / "nafnet-tiny-s1.pt").is_file() and (board / "study.json").is_file()


@pytest.mark.slow
def test_reference_rows_with_the_field_check_and_shuffled_fields(smoke_study, tmp_path, repo_root):
    """``references: {classical_check: true, shuffled: true}`` adds the checked classical filter and both classical
    rows with shuffled fields; each row equals a direct ``evaluate`` of that model, options and field."""
    from gyrobench.evaluate import EvalConfig, evaluate

    src, _ = smoke_study
    d = _suite_dict(repo_root)
    d["references"] = {"classical": True, "classical_check": True, "shuffled": True, "blurred": True}
    d["runs"] = d["runs"][:1]
    d["dataset"]["recipe"] = str(repo_root / "gyrobench" / "recipes" / "smoke.yaml")
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(d))
    out = tmp_path / "s"
    run_study(suite, out, command=COMMAND, workers=1)
    rows = {r["label"]: r for r in _table_rows(out / "board")}
    want = {"classical (per-tile Wiener)": ({}, "noisy"),
            "classical (per-tile Wiener) (shuffled fields)": ({}, "shuffled"),
            "classical (per-tile Wiener) + field check": ({"check": True}, "noisy"),
            "classical (per-tile Wiener) + field check (shuffled fields)": ({"check": True}, "shuffled")}
    for label, (options, field) in want.items():
        assert rows[label]["test_fields"] == field, label
        path = evaluate(EvalConfig(model="classical", options=options, data=str(out / "data"),
                                   out=str(tmp_path / "direct" / str(len(label))), split="test", metrics=("psnr",),
                                   gyro_field=field, crops=0))
        psnr = json.loads(path.read_text())["metrics"]["psnr"]["mean"]
        assert float(rows[label]["psnr_mean"]) == pytest.approx(psnr, abs=1e-9), label
    assert rows["classical (per-tile Wiener) (shuffled fields)"]["psnr_mean"] != \
        rows["classical (per-tile Wiener)"]["psnr_mean"]
