#!/usr/bin/env bash
# Ships the ptb build as bertbench-ptb 0.1.0 once every unit is written (build.sh; `bertbench progress RUN`):
# commit into the package's releases, validate it, print its reliability (and plot it with the held-out loss at
# every logged step), and write the report on its headline target (op effects with size held fixed, size baselines
# and proxies with CIs, the reliability ceiling) to bench/releases/ptb/report/.
#   bash bench/releases/ptb/ship.sh [RUN]
set -euo pipefail
RUN=${1:-bench/releases/ptb/run}; HERE=$(dirname "$0")
BB=${BERTBENCH:-.venv/bin/bertbench}; PY=${PYTHON:-.venv/bin/python}
progress=$("$BB" progress "$RUN"); echo "$progress"
case "$progress" in *"every planned result is written"*) ;;
  *) echo "ship.sh: $RUN is not complete: resume bench/releases/ptb/build.sh first" >&2; exit 1 ;; esac
"$BB" commit "$RUN" --name bertbench-ptb --version 0.1.0 --out bertbench/releases --license cc-by-sa-4.0 \
  --caveat "Pretraining only: 500 steps of masked-LM on the PTB training text (1M tokens); the target is the held-out MLM loss on PTB valid, not a downstream task score."
"$BB" validate bertbench-ptb
"$BB" reliability bertbench-ptb --plot "$HERE/reliability.png"
"$PY" bench/experiments/release_report.py bertbench-ptb --target pretrain --out "$HERE/report"
