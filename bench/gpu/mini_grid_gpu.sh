#!/usr/bin/env bash
# The prepared GPU call for the mini benchmark (one command on a lent GPU machine, from the repository root):
# the grid `mini` with WORKERS processes sharing the GPU until DEADLINE seconds (`regenerate --workers`), the run folder (without the encoders)
# archived to $OUT/mini-run.tgz, then bench/gpu/gpu_check.sh.
#   CORPUS, GLUE  the data as the run folder's identity names it (default: PTB and GLUE under $DATA=.gpudata)
#   RESUME        a run folder (without models/ and claims/) to copy in first: the GPU trains only what is missing
#   DUP=N         beside the grid, one more worker trains the first N architectures again into a separate folder
#                 (with the resumed folder's tokenizer), archived to $OUT/mini-dup.tgz: the same units on another
#                 device, to set the device difference beside the seed noise
set -uo pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export BERTBENCH_CACHE=${BERTBENCH_CACHE:-/tmp/bertbench-cache} PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DATA=${DATA:-.gpudata}; RUN=${RUN:-/tmp/mini-run}; OUT=${OUT:-/tmp/out}; PY=${PY:-python3}
CORPUS=${CORPUS:-$DATA/ptb.zip::ptb/ptb.train.txt}; GLUE=${GLUE:-$DATA/glue}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers, datasets, accelerate, pyarrow, tokenizers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'datasets', datasets.__version__, 'accelerate', accelerate.__version__, 'pyarrow', pyarrow.__version__, 'tokenizers', tokenizers.__version__)" || exit 3
rm -rf "$RUN" /tmp/mini-dup  # a machine may keep /tmp from an earlier lease: never resume another run's leftovers
if [ -n "${RESUME:-}" ]; then mkdir -p "$RUN" && cp -r "$RESUME"/. "$RUN"/; fi
grid() { $PY -m bertbench.cli regenerate --grid mini --recipe mini --set "data.corpus=$CORPUS" \
    --set "data.task_source=$GLUE" --threads 1 --deadline "${DEADLINE:-450}" "$@" 2>&1 \
    | grep -v -i "warn\|Writing model shards"; }
if [ -n "${DUP:-}" ]; then
    mkdir -p /tmp/mini-dup && cp -r "$RUN/tokenizer" /tmp/mini-dup/
    (sleep 20; grid --out /tmp/mini-dup --workers 1 --limit "$DUP" > /tmp/mini-dup.log) &
fi
grid --out "$RUN" --workers "${WORKERS:-12}" ${EXTRA:-}
wait
tar czf "$OUT/mini-run.tgz" --exclude=./models --exclude=./checkpoints --exclude=./claims -C "$RUN" .
if [ -n "${DUP:-}" ]; then
    cp /tmp/mini-dup.log "$OUT/"; tar czf "$OUT/mini-dup.tgz" --exclude=./models --exclude=./checkpoints -C /tmp/mini-dup .
fi
mkdir -p /tmp/pybin && rm -f /tmp/pybin/python && printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v $PY)" > /tmp/pybin/python && chmod +x /tmp/pybin/python
PATH=/tmp/pybin:$PATH STEPS=${STEPS:-30} timeout "${GPU_CHECK_TIMEOUT:-120}" bash bench/gpu/gpu_check.sh 2>&1 \
    | grep -v -i "warn" | tee "$OUT/gpu_check.txt"
