"""The study's recipe keeps every deformable block alive (issue 22 item 5); the old recipe does not.

The small GyroDeblurNet of the CPU study (``studies/cpu.yaml``: batch 8, 64² on-the-fly Kodak crops, Adam at
3e-3 with a 20-step warm-up) is trained for ``STEPS`` steps and the health of its gyro-deblurring block is read
from ``metrics.jsonl`` (:mod:`gyrobench.models.health`). Under the official options the block dies within these
steps (mask → 0, offsets off the 8×8 map: measured 2026-12-07, docs/gyro-path.md); under the live-gyro recipe
(:data:`gyrobench.models.small.LIVE_GYRO`) it must stay above the floors below at every logged step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gyrobench.models.small import LIVE_GYRO, small_options
from gyrobench.train.trainer import train

ROOT = Path(__file__).resolve().parents[1]
STEPS = 60
# floors at every logged step: an 8x8 map with zero offsets has 84.0 % of its points inside (3x3, padding 1)
INSIDE_FLOOR, OUTPUT_REL_FLOOR = 0.6, 0.05


def _study_config(options: dict, schedule: dict) -> dict:
    return {
        "name": "alive",
        "model": {"name": "gyrodeblurnet", "options": small_options("gyrodeblurnet", dcn_backend="torch", **options)},
        "data": {"crop": 64, "workers": 0,
                 "online": {"recipe": str(ROOT / "studies" / "cpu-data.yaml"), "images": "builtin:kodak",
                            "image_range": [0, 5], "strength": 0.5, "strength_max": 2.0}},
        "schedule": {"batch_size": 8, "steps": STEPS, "lr": 3e-3, "lr_min": 1e-6, "warmup_steps": 20, **schedule},
        "degradation": "gyrodeblurnet_official",
        "curriculum": False,
        "seed": 1,
        "device": "cpu",
        "logging": {"log_every": 5, "checkpoint_every": 10_000, "tensorboard": False, "image_every": 0},
    }


def _health(out: Path) -> list[dict]:
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [h for r in recs for h in r["deform"].values()]


@pytest.mark.slow
def test_live_gyro_recipe_keeps_the_block_alive(tmp_path):
    train(_study_config(LIVE_GYRO["options"], LIVE_GYRO["schedule"]), tmp_path / "live")
    hs = _health(tmp_path / "live")
    assert len(hs) == STEPS // 5
    for h in hs:
        assert h["inside"] >= INSIDE_FLOOR and h["output_rel"] >= OUTPUT_REL_FLOOR, h


@pytest.mark.slow
def test_official_options_at_the_study_rate_kill_the_block(tmp_path):
    """The same check fails under the options the published CPU study used (the reason for issue 22)."""
    train(_study_config({}, {}), tmp_path / "official")
    last = _health(tmp_path / "official")[-1]
    assert not (last["inside"] >= INSIDE_FLOOR and last["output_rel"] >= OUTPUT_REL_FLOOR), last
