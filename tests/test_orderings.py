"""Paired orderings of a published board (gyrobench.study.orderings, issue 22 item 4): the per-image differences,
their t-interval (reference: the tabulated t quantile 2.201 for 11 degrees of freedom) and the verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gyrobench.errors import GyrobenchError
from gyrobench.study.orderings import main, orderings_table


def _record(board, slug, label, seed, psnr):
    d = board / "records" / "runs" / slug / f"seed-{seed}" / "eval" / "test"
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"label": f"{label} · seed {seed}", "per_image_csv": "per_image.csv"}))
    rows = "".join(f"test-{i:06d},{float(p)!r},0.5\n" for i, p in enumerate(psnr))
    (d / "per_image.csv").write_text("sample_id,psnr,ssim\n" + rows)


def test_paired_differences_intervals_and_verdicts(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(18, 28, 12)
    d = rng.normal(0.3, 0.1, 12)  # (g) above (f) by about 0.3 dB on every image
    for seed, jitter in ((1, 0.0), (2, 0.02), (3, -0.02)):
        _record(tmp_path, "g-full", "(g) full", seed, base + d + jitter)
        _record(tmp_path, "f-no-curriculum", "(f) without curriculum", seed, base)
    _record(tmp_path, "a-no-gyro", "(a) no gyro", 1, base + d + 1.0)  # (g) below (a): reversed
    table = orderings_table(tmp_path, pairs=(("(g)", "(f)"), ("(g)", "(a)"), ("(f)", "(f)")))
    gf, ga, ff = table
    half = 2.201 * d.std(ddof=1) / math.sqrt(12)  # t(0.975, 11) = 2.201 (tables)
    assert gf.ours_db == pytest.approx(d.mean()) and gf.ci95 == pytest.approx((d.mean() - half, d.mean() + half),
                                                                               abs=1e-3)
    assert gf.verdict == "reproduced" and gf.paper_db == pytest.approx(0.34) and gf.seeds == (3, 3)
    assert gf.seed_sd_db == pytest.approx(math.sqrt(np.var([0.0, 0.02, -0.02], ddof=1)), abs=1e-9)
    assert ga.verdict == "reversed" and ga.seed_sd_db is None and ga.ours_db == pytest.approx(-1.0)
    assert ff.verdict == "not resolved"  # no difference at all: the interval is [0, 0]
    assert [o.verdict for o in orderings_table(tmp_path)].count("not on the board") == 7  # (g)-(f) and (g)-(a) are here
    assert main([str(tmp_path)]) == 0
    assert "| (g) full | (f) without curriculum | +0.34 |" in (tmp_path / "orderings.md").read_text()
    assert (tmp_path / "orderings.csv").read_text().startswith("above,below,paper_db,ours_db")


def test_a_board_without_records_is_one_clear_error(tmp_path):
    with pytest.raises(GyrobenchError, match="no records/runs"):
        orderings_table(tmp_path)
    with pytest.raises(SystemExit, match="gyrobench orderings: error"):
        main([str(tmp_path)])


def test_boards_without_the_papers_rows_get_no_orderings(tmp_path):
    from gyrobench.study.orderings import write_orderings

    _record(tmp_path, "nafnet", "NAFNet small", 1, [20.0, 21.0, 22.0])
    assert write_orderings(tmp_path) == {} and not (tmp_path / "orderings.md").exists()
