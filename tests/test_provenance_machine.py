"""The machine record names the CPU and torch's CPU kernel level, the two things that decide the last bits of a
CPU run (docs/cpu-study.md, "Reproducibility")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from gyrobench.provenance import machine


def test_machine_records_torch_cpu_capability_as_dispatched():
    # second computation: a fresh interpreter told to use the scalar kernels must report them
    code = ("from gyrobench.provenance import machine; m = machine(); "
            "print(m['torch_cpu_capability'], m['numerics_env']['ATEN_CPU_CAPABILITY'], m['numerics_env']['MKL_CBWR'])")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AVX2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["DEFAULT", "default", "AVX2"]
    assert machine()["torch_cpu_capability"] in {"DEFAULT", "AVX2", "AVX512", "NO AVX", "ZVECTOR", "VSX", "SVE256"}


@pytest.mark.skipif(shutil.which("lscpu") is None or not os.path.exists("/proc/cpuinfo"),
                    reason="needs lscpu and /proc/cpuinfo (Linux) for the second reading of the CPU model")
def test_machine_records_the_cpu_model_name():
    out = subprocess.run(["lscpu"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    names = [line.split(":", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("Model name:")]
    if not names:
        pytest.skip("lscpu names no CPU model on this machine")
    assert machine()["cpu_model"] == names[0]
