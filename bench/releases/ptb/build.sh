#!/usr/bin/env bash
# Builds (or resumes) the ptb release's run folder in the background on a 2-core CPU: prepare once (tokenizer,
# corpus, run.json), then two 1-thread grid workers over the 80 units (40 architectures x 2 pretraining seeds; each
# unit = 500 steps of MLM pretraining on PTB, scored by its held-out MLM loss on PTB valid; recipe `ptb` has no tasks).
# Rerun to resume: finished results are kept and a pretraining resumes from its last checkpoint. `bertbench progress
# RUN` says how far it is and predicts the time left.
#
# The build outlives a working session only through git: its folder (default bench/releases/ptb/run/) is committed
# as it grows, without its machine-local parts (.gitignore: models/, checkpoints/, claims/, logs/, temp files):
#   git add bench/releases/ptb/run && git commit -m "ptb build state: N of 80 units" -- bench/releases/ptb/run
# It is build state, not a release (nothing loads it by name). A fresh clone resumes it with the same command. The
# saved encoders are not committed (about 1 GB for 80 units): a version that adds fine-tuning tasks trains a unit
# whose encoder is gone again whole (its pretraining is a pure function of architecture, recipe and seed), so all
# of a unit's tasks must then be trained in one session.
# The proxies of the untrained architectures go into the folder once (already in the committed state):
#   bertbench proxies score-run RUN --corpus PTB_ZIP::ptb/ptb.train.txt
# When every unit is done, bench/releases/ptb/ship.sh commits the release, validates it and writes its report.
#
#   bash bench/releases/ptb/build.sh PTB_ZIP [RUN]     # e.g. ../shared/data/ptb/ptb.zip
set -euo pipefail
PTB=${1:?path to ptb.zip}; RUN=${2:-bench/releases/ptb/run}
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
ARGS=(--grid ptb --recipe ptb --out "$RUN" --set "data.corpus=$PTB::ptb/ptb.train.txt")
# prepares the folder once, then two 1-thread workers at the lowest priority; their logs go to RUN/logs/
exec "$PY" -m bertbench.cli regenerate "${ARGS[@]}" --workers 2 --threads 1 --nice 19
