#!/usr/bin/env bash
# The prepared GPU study: `gyrobench study` of studies/gpu.yaml (or the suite given) on one CUDA GPU, the whole
# study (synthesis, calibration, training, validation, evaluation, publishing) capped at 10 minutes.
#   benchmarks/gpu_study.sh [SUITE]          env: OUT (work folder), PUBLISH (board), GYROBENCH (the command)
# Results: $PUBLISH/table.md, curves.png, timing.md; the log goes to $OUT/gpu_study.log.
set -euo pipefail
SUITE=${1:-studies/gpu.yaml}
OUT=${OUT:-out/study/gpu}
PUBLISH=${PUBLISH:-leaderboard/gpu-study}
GYROBENCH=${GYROBENCH:-gyrobench}
python - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_study.sh: no CUDA device visible; this script needs one GPU")
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
mkdir -p "$OUT"
start=$(date +%s)
timeout 600 $GYROBENCH study "$SUITE" --out "$OUT" --publish "$PUBLISH" 2>&1 | tee "$OUT/gpu_study.log"
echo "gpu_study.sh: whole study in $(( $(date +%s) - start )) s (limit 600 s); table: $PUBLISH/table.md"
