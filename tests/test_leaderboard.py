"""Leaderboard publishing from hand-written results records (docs/conventions.md §8)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gyrobench.cli import main
from gyrobench.leaderboard import RecordError, load_record, publish

MANIFEST = "a" * 64
MODELS = [  # label, model, psnr mean, ssim mean, niqe mean
    ("GyroDeblurNet tiny", "gyrodeblurnet", 27.5, 0.81, 4.4),
    ("NAFNet w32", "nafnet", 26.25, 0.78, 4.9),
    ("classical RL", "classical", 22.125, 0.60, 6.1),
]


def _record(
    root: Path,
    i: int,
    label: str,
    model: str,
    psnr: float,
    ssim: float,
    niqe: float,
    protocol: str = "gyrodeblurnet_official",
    manifest: str = MANIFEST,
    crops: bool = True,
    gyro_field: str = "noisy",
) -> Path:
    d = root / f"run{i}"
    d.mkdir(parents=True)
    rng = np.random.default_rng(i)
    ext = np.array([10.0, 25.0, 40.0, 60.0, 90.0])
    p = psnr + 2.0 - 0.05 * ext + rng.normal(0, 0.1, 5)
    with open(d / "per_image.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample_id", "psnr", "ssim", "blur_extent_px"])
        for k in range(5):
            w.writerow([f"s{k:03d}", f"{p[k]:.4f}", f"{ssim:.4f}", f"{ext[k]:.2f}"])
    crop_list = []
    if crops:
        (d / "crops").mkdir()
        for kind, v in (("blurred", 60), ("restored", 120), ("sharp", 200)):
            cv2.imwrite(str(d / "crops" / f"s000_{kind}.png"), np.full((8, 8, 3), v + i, np.uint8))
        crop_list = [
            {
                "sample_id": "s000",
                "blurred": "crops/s000_blurred.png",
                "restored": "crops/s000_restored.png",
                "sharp": "crops/s000_sharp.png",
            }
        ]
    rec = {
        "format": "gyrobench-results/1",
        "model": model,
        "label": label,
        "options": {"width": 8},
        "checkpoint": f"runs/{model}/last.pt",
        "checkpoint_sha256": f"{i}" * 64,
        "dataset": "demo-test",
        "dataset_manifest_sha256": manifest,
        "recipe_sha256": "c" * 64,
        "protocol": protocol,
        "split": "test",
        "protocol_options": {"gyro_field": gyro_field},
        "uses_gyro": model != "nafnet",
        "model_source": "gyrobench checkpoint",
        "n_images": 5,
        "blur_extent_px": {"mean": 45.0, "median": 40.0, "max": 90.0},
        "timing": {"inference_s_mean": 0.1, "device": "cpu"},
        "metrics": {
            "psnr": {
                "mean": psnr,
                "ci95": [psnr - 0.5, psnr + 0.5],
                "n": 5,
                "lower_better": False,
                "full_reference": True,
            },
            "ssim": {
                "mean": ssim,
                "ci95": [ssim - 0.01, ssim + 0.01],
                "n": 5,
                "lower_better": False,
                "full_reference": True,
            },
            "niqe": {
                "mean": niqe,
                "ci95": [niqe - 0.2, niqe + 0.2],
                "n": 5,
                "lower_better": True,
                "full_reference": False,
            },
        },
        "unavailable": {"topiq_nr": "weights not found at ~/.cache/pyiqa/topiq_nr.pth"},
        "per_image_csv": "per_image.csv",
        "crops": crop_list,
        "command": ["gyrobench", "eval", "--checkpoint", f"runs/{model}/last.pt", "--data", "data/demo"],
        "versions": {"gyrobench": "0.1.0"},
        "date": f"2026-11-2{i}T10:00:00Z",
        "machine": {"cpus": 2},
        "git_commit": "deadbeef" * 5,
    }
    path = d / "results.json"
    path.write_text(json.dumps(rec, indent=1))
    return path


@pytest.fixture()
def records(tmp_path):
    return [_record(tmp_path / "results", i, *m) for i, m in enumerate(MODELS)]


def _read_csv(path):
    return list(csv.DictReader(io.StringIO(Path(path).read_text())))


def test_publish_writes_everything_ranked(records, tmp_path):
    out = tmp_path / "leaderboard" / "demo"
    written = publish(records, out)
    for name in (
        "table.md",
        "table.csv",
        "table.tex",
        "index.html",
        "leaderboard.json",
        "bars-1.png",
        "scatter-1.png",
        "crops-1.png",
    ):
        assert (out / name).is_file(), name
    rows = _read_csv(out / "table.csv")
    assert [r["label"] for r in rows] == ["GyroDeblurNet tiny", "NAFNet w32", "classical RL"]
    # values come straight from the records (independent of formatting)
    for r, (label, _, psnr, ssim, niqe) in zip(rows, MODELS):
        assert r["label"] == label
        assert (
            float(r["psnr_mean"]) == psnr and float(r["ssim_mean"]) == ssim and float(r["niqe_mean"]) == niqe
        )
        assert float(r["psnr_ci95_lo"]) == psnr - 0.5 and r["niqe_lower_better"] == "1"
        assert len(r["record_sha256"]) == 64 and r["checkpoint_sha256"] and r["recipe_sha256"] == "c" * 64
        assert r["command"].startswith("gyrobench eval --checkpoint")
    md = (out / "table.md").read_text()
    assert "| 1 | GyroDeblurNet tiny |" in md and "**27.50** [27.00, 28.00]" in md
    assert "**4.400** [4.200, 4.600]" in md  # NIQE: lower is better, so the smallest is bold
    assert "NIQE ↓" in md and "PSNR ↑" in md
    assert "n/a [^1topiq_nr]" in md and "weights not found" in md
    assert "leaderboard_version: gyrobench-leaderboard/1" in md
    assert "run0/results.json" in md and "`cccccccccccc`" in md
    tex = (out / "table.tex").read_text()
    assert "\\textbf{27.50}" in tex and "GyroDeblurNet tiny" in tex and "\\toprule" in tex
    page = (out / "index.html").read_text()
    assert 'src="bars-1.png"' in page and 'src="scatter-1.png"' in page and "leaderboard_version" in page
    copied = sorted(p.name for p in (out / "crops").rglob("*.png"))
    assert len(copied) == 9 and "s000-restored.png" in copied
    assert "reference" not in written and not (out / "reference.md").exists()
    assert cv2.imread(str(out / "bars-1.png")).shape[2] == 3


def test_tables_are_deterministic(records, tmp_path):
    a, b = tmp_path / "lb1" / "demo", tmp_path / "lb2" / "demo"  # same title, same relative paths
    publish(records, a)
    publish(list(reversed(records)), b, plots_enabled=False)  # input order and plots do not matter
    publish(records, a, plots_enabled=False)  # rebuilding in place gives the same bytes too
    for name in ("table.md", "table.csv", "table.tex", "leaderboard.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_groups_by_dataset_and_protocol(records, tmp_path):
    extra = _record(tmp_path / "results", 7, "NAFNet srgb", "nafnet", 40.0, 0.95, 3.0, protocol="srgb8")
    out = tmp_path / "lb"
    publish(records + [extra], out, plots_enabled=False)
    rows = _read_csv(out / "table.csv")
    srgb = [r for r in rows if r["protocol"] == "srgb8"]
    assert len(srgb) == 1 and srgb[0]["rank"] == "1" and srgb[0]["group"] != rows[0]["group"]
    official = [r for r in rows if r["protocol"] == "gyrodeblurnet_official"]
    assert [r["rank"] for r in official] == ["1", "2", "3"]  # the 40 dB sRGB row is not ranked with them
    assert (out / "table.md").read_text().count("\n## ") == 2
    clean = _record(
        tmp_path / "results", 8, "GDN clean field", "gyrodeblurnet", 30.0, 0.9, 4.0, gyro_field="clean"
    )
    publish(records + [clean], out, plots_enabled=False)
    rows = _read_csv(out / "table.csv")
    assert {r["gyro_field"] for r in rows} == {"clean", "noisy"}
    assert [r["rank"] for r in rows if r["gyro_field"] == "noisy"] == ["1", "2", "3"]
    md = (out / "table.md").read_text()
    assert "clean gyro fields" in md and "split test" in md and "| 2 | NAFNet w32 | no |" in md


def test_paper_numbers_only_in_a_separate_labelled_block(records, tmp_path):
    out = tmp_path / "lb"
    assert (
        main(["leaderboard", *map(str, records), "--out", str(out), "--with-paper-reference", "--no-plots"])
        == 0
    )
    ref = (out / "reference.md").read_text()
    assert "unverified" in ref.lower() and "| GyroDeblurNet | gyro | 27.28 | 0.780 | 4.47 | 0.548 |" in ref
    for name in ("table.md", "table.csv", "table.tex"):
        assert "27.28" not in (out / name).read_text(), name
    page = (out / "index.html").read_text()
    assert "<div class=ref>" in page and "unverified secondary source" in page
    assert page.index("<div class=ref>") > page.rindex("Traceability")


def test_folder_input_and_no_plots(records, tmp_path):
    out = tmp_path / "lb"
    assert main(["leaderboard", str(tmp_path / "results"), "--out", str(out), "--no-plots"]) == 0
    assert len(_read_csv(out / "table.csv")) == 3 and not (out / "bars-1.png").exists()


def test_leaderboard_never_imports_models(records, tmp_path):
    code = (
        "import sys; from gyrobench.leaderboard import publish; "
        f"publish({[str(r) for r in records]!r}, {str(tmp_path / 'lb')!r}, plots_enabled=False); "
        "bad = [m for m in sys.modules if m.startswith('gyrobench.models') or m == 'torch']; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d.pop("metrics"), "metrics"),
        (lambda d: d["metrics"]["psnr"].update(mean="high"), "metrics.psnr.mean"),
        (lambda d: d["metrics"]["psnr"].update(mean=float("nan")), "metrics.psnr.mean"),
        (lambda d: d["metrics"]["ssim"].update(ci95=[0.5]), "metrics.ssim.ci95"),
        (lambda d: d["crops"][0].update(restored="crops/missing.png"), "crops[].restored"),
    ],
)
def test_bad_records_give_one_line_errors(records, tmp_path, capsys, mutate, field):
    d = json.loads(records[0].read_text())
    mutate(d)
    records[0].write_text(json.dumps(d))
    rc = main(["leaderboard", *map(str, records), "--out", str(tmp_path / "lb")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("gyrobench: error:") and "run0/results.json" in err and field in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("key", ["model", "dataset_manifest_sha256", "split", "protocol", "per_image_csv", "date"])
def test_record_missing_a_required_key_fails_naming_it(records, tmp_path, capsys, key):
    d = json.loads(records[1].read_text())
    del d[key]
    records[1].write_text(json.dumps(d))
    rc = main(["leaderboard", *map(str, records), "--out", str(tmp_path / "lb")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "run1/results.json" in err and f"missing required key '{key}'" in err


def test_record_unknown_key_and_wrong_type_fail_naming_them(records):
    d = json.loads(records[0].read_text())
    records[0].write_text(json.dumps({**d, "datset": "x"}))
    with pytest.raises(RecordError, match="unknown key 'datset'"):
        load_record(records[0])
    records[0].write_text(json.dumps({**d, "n_images": "five"}))
    with pytest.raises(RecordError, match="n_images: expected an integer"):
        load_record(records[0])


def test_results_writer_refuses_an_incomplete_record(tmp_path):
    from gyrobench.results import write_record

    with pytest.raises(RecordError, match="missing required key 'label'"):
        write_record(tmp_path / "r.json", {"model": "x", "metrics": {}})
    assert not (tmp_path / "r.json").exists()


def test_not_json_and_missing(tmp_path, capsys):
    p = tmp_path / "r.json"
    p.write_text("{")
    with pytest.raises(RecordError, match="not valid JSON"):
        load_record(p)
    rc = main(["leaderboard", str(tmp_path / "nothing.json"), "--out", str(tmp_path / "lb")])
    assert rc == 2 and "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    rc = main(["leaderboard", str(tmp_path / "empty"), "--out", str(tmp_path / "lb")])
    assert rc == 2 and "no results records" in capsys.readouterr().err


def test_reads_records_written_by_the_results_writer(tmp_path):
    """Compatibility with gyrobench.results (the evaluator's writer): t-intervals, null ci95 for n = 1."""
    from gyrobench import results
    d = tmp_path / "ev"
    vals = np.array([24.0, 25.0, 26.0, 27.0])
    results.write_per_image_csv(
        [{"sample_id": f"s{i}", "psnr": v, "blur_extent_px": 10.0 * i} for i, v in enumerate(vals)],
        d / "per_image.csv",
        ["psnr"],
    )
    rec = {
        "model": "nafnet",
        "label": "NAFNet",
        "options": {},
        "uses_gyro": False,
        "model_source": "gyrobench checkpoint",
        "checkpoint": "last.pt",
        "checkpoint_sha256": "b" * 64,
        "dataset": "data/demo",
        "recipe_sha256": None,
        "protocol": "srgb8",
        "protocol_options": {"gyro_field": "noisy"},
        "split": "test",
        "dataset_manifest_sha256": MANIFEST,
        "per_image_csv": "per_image.csv",
        "crops": [],
        "unavailable": {},
        "n_images": 4,
        "blur_extent_px": {"mean": 15.0, "median": 15.0, "max": 30.0},
        "timing": {},
        "versions": {},
        "machine": {},
        "git_commit": None,
        "metrics": {
            "psnr": results.summarize_metric(vals, lower_better=False, full_reference=True),
            "ssim": results.summarize_metric([0.7], lower_better=False, full_reference=True),
        },
        "command": "gyrobench eval",
        "date": "2026-11-25T00:00:00+00:00",
    }
    path = results.write_record(d / "results.json", rec)
    out = tmp_path / "lb"
    publish([path], out)
    row = _read_csv(out / "table.csv")[0]
    # t-interval computed here independently: mean 25.5, s = 1.2910, t(0.975, 3) = 3.1824
    half = 3.182446305284263 * np.std(vals, ddof=1) / 2.0
    assert abs(float(row["psnr_ci95_lo"]) - (25.5 - half)) < 1e-9 and row["ssim_ci95_lo"] == ""
    assert (out / "scatter-1.png").is_file()
