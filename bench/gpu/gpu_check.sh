#!/usr/bin/env bash
# One short GPU check (a few minutes), run from the repository root with bertbench installed (pip install -e .).
set -euo pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python bench/gpu/gpu_check.py --steps "${STEPS:-30}"
