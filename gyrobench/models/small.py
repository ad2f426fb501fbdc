"""Small configurations of the learned models for CPU-scale studies (issue 9 item 1).

Each is about 1.1-1.5 M parameters and 0.5-0.8 GMACs on a 128×128 crop (``gyrobench models`` lists them with both
figures at the size asked for), so a study compares like with like. ``gyrodeblurnet`` keeps the official layout
(three levels, GRBs at levels 1 and 2, gyro branch at twice the width, GDBs at 1/8 resolution) with fewer and
narrower blocks; ``nafnet`` keeps four levels; ``deepgyro`` has the input residual (a short run starts from the
identity; the original has none); ``eggnet`` keeps its GTM/IGTM layout.

Measured with :func:`gyrobench.models.complexity.model_complexity` at 128×128 (2026-12-03):

==================  ===========  ==========
config              parameters   GMACs@128²
==================  ===========  ==========
gyrodeblurnet       1,266,770    0.571
nafnet              1,457,683    0.545
deepgyro            1,282,024    0.506
eggnet              1,073,642    0.655
==================  ===========  ==========
"""

from __future__ import annotations

import copy

__all__ = ["SMALL_CONFIGS", "small_options", "LIVE_GYRO"]

#: model name -> options of its small configuration
SMALL_CONFIGS: dict[str, dict] = {
    "gyrodeblurnet": {"width": 16, "enc_blk_nums": [1, 1, 1], "middle_blk_num": 2, "dec_blk_nums": [1, 1, 1],
                      "gdb_num": 1},
    "nafnet": {"width": 16, "enc_blk_nums": [2, 2, 2, 2], "middle_blk_num": 1, "dec_blk_nums": [2, 2, 2, 2]},
    "deepgyro": {"width": 13, "residual": True},
    "eggnet": {"width": 11, "enc_blocks": 1, "dec_blocks": 1, "mid_blocks": 6},
}


#: the live-gyro recipe for GyroDeblurNet at the CPU study's learning rate (issue 22, docs/gyro-path.md): model
#: options on top of the small configuration and the schedule's parameter-group factors. ``gdb_residual`` starts
#: each gyro-deblurring block as the identity (the official block replaces its input, and early steps at 3e-3
#: learn to kill it), ``gyro_norm`` keeps the gyro feature that guides the offsets O(1), ``max_offset`` bounds the
#: offsets to ±2 bottleneck px (±16 image px, beyond the half-extent of the training blur), and the offset and
#: modulator convs learn at 1/100 of the rate (Adam moves each of their 2·9·c inputs' weights by lr per step).
LIVE_GYRO: dict[str, dict] = {
    "options": {"gdb_residual": True, "gyro_norm": True, "max_offset": 2.0},
    "schedule": {"lr_mult": {"offset_conv": 0.01, "modulator_conv": 0.01}},
}


def small_options(name: str, **extra) -> dict:
    """A copy of the small configuration of ``name`` with ``extra`` options on top."""
    if name not in SMALL_CONFIGS:
        from ..errors import GyrobenchError

        raise GyrobenchError(f"no small configuration for model '{name}'; choose from {', '.join(SMALL_CONFIGS)}")
    return {**copy.deepcopy(SMALL_CONFIGS[name]), **extra}
