#!/usr/bin/env bash
# Slurm array template for `bertbench regenerate --parallel grid`: each array task trains its share of the grid.
# Submit:   sbatch --array=0-15 bertbench/training/launch/slurm_array.sh
# Every task writes result files into the same RUN_DIR (a shared file system); rerunning the array (or single failed
# tasks) only does what is missing. Set GRID, RECIPE, RUN_DIR, SEEDS (and BERTBENCH to the CLI) in the environment.
#SBATCH --job-name=bertbench
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=logs/bertbench-%A_%a.out
set -euo pipefail
: "${GRID:=paper-2023}" "${RECIPE:=paper-2023}" "${RUN_DIR:=runs/paper-2023}" "${SEEDS:=0}"
: "${BERTBENCH:=bertbench}"
: "${SLURM_ARRAY_TASK_ID:?run under sbatch --array (or set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT)}"
: "${SLURM_ARRAY_TASK_COUNT:?}"
exec $BERTBENCH regenerate --grid "$GRID" --recipe "$RECIPE" --out "$RUN_DIR" --seeds "$SEEDS" --parallel grid \
  ${EXTRA_ARGS:-}
