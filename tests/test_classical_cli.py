"""The classical reference through the CLI on a synthesized dataset (real shard format -> batch -> model ->
results record), and its option errors as one-line CLI messages."""

from __future__ import annotations

import json

import pytest

from gyrobench.cli import main as cli_main


def _eval_classical(opts: dict, data, out, *extra: str) -> int:
    """``gyrobench eval --model classical --options JSON --data DATA --out OUT --metrics psnr [extra]``."""
    return cli_main(["eval", "--model", "classical", "--options", json.dumps(opts), "--data", str(data),
                     "--out", str(out), "--metrics", "psnr", *extra])


@pytest.mark.parametrize("opts", [{"method": "wiener", "tile": 32}, {"method": "rl_global", "iterations": 5}])
def test_eval_classical_end_to_end(smoke_data, tmp_path, opts):
    out = tmp_path / "ev"
    assert _eval_classical(opts, smoke_data, out, "--crops", "0") == 0
    rec = json.loads((out / "results.json").read_text())
    assert rec["model"] == "classical" and rec["options"]["method"] == opts["method"]
    assert rec["metrics"]["psnr"]["n"] >= 1 and rec["metrics"]["psnr"]["mean"] > 10


@pytest.mark.parametrize(
    "opts,needle", [({"method": "magic"}, "method"), ({"tile": 2}, "tile"), ({"wrong_key": 1}, "bad options")]
)
def test_cli_option_errors(smoke_data, tmp_path, capsys, opts, needle):
    capsys.readouterr()
    rc = _eval_classical(opts, smoke_data, tmp_path / "x")
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("gyrobench: error:") and needle in err, err
    assert len(err.strip().splitlines()) == 1
