#!/usr/bin/env bash
# The prepared GPU check (README, "Training the real models"): the 7B-shaped I-LoRA vs LoRA benchmark with
# plan's memory estimate beside the measured peak, then the gpu-marked tests, each under a timeout.
# Results go to $OUT (default runs/gpu_check): bench.json, bench.txt, gpu_tests.txt, device.txt.
#   OUT=/tmp/gpu tools/gpu_check.sh                 # on the GPU machine
#   BENCH_ARGS=--tiny tools/gpu_check.sh            # the same code path on CPU, small shapes
# A machine without pytest gets it from wheels in $WHEELS (default .gpu_wheels; `pip download pytest`).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu_check}"
mkdir -p "$OUT"
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
PY="${PY:-python}"
{ date -u +%Y-%m-%dT%H:%M:%SZ; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"; } \
  >"$OUT/device.txt" 2>&1
timeout "${BENCH_TIMEOUT:-300}" "$PY" tools/bench_gpu.py --json "$OUT/bench.json" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.txt"
bench=${PIPESTATUS[0]}
if ! "$PY" -c "import pytest" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --find-links "${WHEELS:-.gpu_wheels}" pytest 2>&1 | tail -2
fi
# only the files holding gpu tests: collecting the whole suite needs every data dependency (av, webdataset)
timeout "${TEST_TIMEOUT:-150}" "$PY" -m pytest -m gpu -v -p no:cacheprovider $(grep -rl "mark.gpu" tests) 2>&1 \
  | tee "$OUT/gpu_tests.txt"
tests=${PIPESTATUS[0]}
cat "$OUT/device.txt"
echo "gpu_check: bench exit $bench, gpu tests exit $tests (5 = no gpu test collected)"
[ "$bench" -eq 0 ] && { [ "$tests" -eq 0 ] || [ "$tests" -eq 5 ]; }
