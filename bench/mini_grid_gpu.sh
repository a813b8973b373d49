#!/usr/bin/env bash
# The prepared GPU call for the mini benchmark (one command on a lent GPU machine, from the repository root):
# the grid `mini` with WORKERS processes sharing the GPU until DEADLINE seconds, the run folder (without the encoders)
# archived to $OUT/mini-run.tgz, then bench/gpu_check.sh. Expects PTB at $DATA/ptb.zip and GLUE at $DATA/glue.
set -uo pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export BERTBENCH_CACHE=${BERTBENCH_CACHE:-/tmp/bertbench-cache} PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DATA=${DATA:-.gpudata}; RUN=${RUN:-/tmp/mini-run}; OUT=${OUT:-/tmp/out}
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers, datasets, accelerate, pyarrow, tokenizers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'datasets', datasets.__version__, 'accelerate', accelerate.__version__, 'pyarrow', pyarrow.__version__, 'tokenizers', tokenizers.__version__)" || exit 3
$PY bench/mini_grid.py --corpus "$DATA/ptb.zip::ptb/ptb.train.txt" --glue "$DATA/glue" --out "$RUN" \
    --workers "${WORKERS:-12}" --deadline "${DEADLINE:-450}" ${EXTRA:-} 2>&1 | grep -v -i "warn\|Writing model shards"
tar czf "$OUT/mini-run.tgz" --exclude=./models --exclude=./checkpoints --exclude=./claims -C "$RUN" .
mkdir -p /tmp/pybin && rm -f /tmp/pybin/python && printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v $PY)" > /tmp/pybin/python && chmod +x /tmp/pybin/python
PATH=/tmp/pybin:$PATH STEPS=${STEPS:-30} timeout "${GPU_CHECK_TIMEOUT:-120}" bash bench/gpu_check.sh 2>&1 \
    | grep -v -i "warn" | tee "$OUT/gpu_check.txt"
