#!/usr/bin/env bash
# The prepared GPU call for the 500-architecture proxy tables (one command on a lent GPU machine, from the repository
# root): bench/experiments/reproduce_bert.py on all 2023 architectures, both builders, at the true shape and then at H256/F1024,
# proxies scored on the GPU by WORKERS processes sharing it, each part stopped at its DEADLINE (per-architecture
# scores are kept as they finish), everything archived to $OUT/reproduce-bert.tgz.
#   SHARED   a folder holding seed-paper/ (the 2023 data; default .gpudata, carried with the call)
#   RESUME   a folder unpacked from an earlier archive: only what is missing is scored
#   DEADLINE1, DEADLINE2  seconds for the true-shape and the H256 parts (default 240 each)
#   DEVICE   cuda (default); cpu runs the same steps here, e.g. to check the script: DEVICE=cpu WORKERS=2 DEADLINE1=40 ...
set -uo pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export BERTBENCH_CACHE=${BERTBENCH_CACHE:-/tmp/bertbench-cache} PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PY:-python3}; OUT=${OUT:-/tmp/out}; RB=${RB:-/tmp/reproduce-bert}; SHARED=${SHARED:-.gpudata}
[ "${DEVICE:-cuda}" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch, transformers, pyarrow, pandas, scipy, tokenizers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 3
rm -rf "$RB" && mkdir -p "$RB"  # a machine may keep /tmp from an earlier lease: start from RESUME or nothing
if [ -n "${RESUME:-}" ]; then cp -r "$RESUME"/. "$RB"/; fi
part() {  # SIGINT at the deadline: the pool is closed, finished architectures stay written
    timeout -s INT -k 30 "$1" $PY bench/experiments/reproduce_bert.py --n 500 --processes "${WORKERS:-8}" --device "${DEVICE:-cuda}" \
        --shared "$SHARED" --out "$RB" "${@:2}" 2>&1 | grep -v -i "warn" | tail -45
}
part "${DEADLINE1:-240}"
part "${DEADLINE2:-240}" --paper-shape
for d in "$RB"/*/scores; do echo "$d: $(ls "$d" | wc -l) architectures scored"; done
tar czf "$OUT/reproduce-bert.tgz" -C "$RB" .
