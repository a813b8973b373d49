#!/usr/bin/env bash
# Builds (or resumes) the ptb release's run folder in the background on a 2-core CPU: prepare once (tokenizer,
# corpus, tasks, run.json), then two 1-thread grid workers over the 80 units (40 architectures x 2 pretraining seeds;
# each unit = MLM pretraining + SST-2 and STS-B x 3 fine-tuning seeds). Rerun to resume: finished results are kept
# and a pretraining resumes from its last checkpoint. PRETRAIN_ONLY=1 pretrains every unit first (the headline
# held-out target), leaving fine-tuning to a later run on the same folder; ONLY_TASKS=sst2 fine-tunes that task alone.
# `bertbench progress RUN` says how far it is and predicts the time left.
#
# The build outlives a working session only through git: its folder (default bench/releases/ptb/run/) is committed
# as it grows, without its machine-local parts (.gitignore: models/, checkpoints/, claims/, logs/, temp files):
#   git add bench/releases/ptb/run && git commit -m "ptb build state: N of 80 units"
# It is build state, not a release (nothing loads it by name). A fresh clone resumes it with the same command. The
# saved encoders are not committed (about 1 GB), so a unit fine-tuned in a later session than its pretraining is
# trained again whole (its pretraining is a pure function of architecture, recipe and seed), and all of a unit's
# tasks must then be trained in that one session: no ONLY_TASKS across sessions, or the next one retrains them.
# When every unit is done:
#   bertbench commit RUN --name bertbench-ptb --version 0.1.0 --out bertbench/releases --license cc-by-sa-4.0 \
#     --caveat "Fine-tuning is one epoch (SST-2: its first 12,000 training rows; STS-B: all) from encoders pretrained
#               for 500 steps: task scores are far below converged small models; see their reliability."
#   python bench/experiments/release_report.py bertbench-ptb --target pretrain --out REPORT
#
#   bash bench/releases/ptb/build.sh PTB_ZIP GLUE_DIR [RUN]     # e.g. ../shared/data/ptb/ptb.zip ../shared/data/glue
set -euo pipefail
PTB=${1:?path to ptb.zip}; GLUE=${2:?path to the GLUE folder}; RUN=${3:-bench/releases/ptb/run}
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
ARGS=(--grid ptb --recipe ptb --out "$RUN" --set "data.corpus=$PTB::ptb/ptb.train.txt"
      --set "data.task_source=$GLUE")
# prepares the folder once, then two 1-thread workers at the lowest priority; their logs go to RUN/logs/
exec "$PY" -m bertbench.cli regenerate "${ARGS[@]}" --workers 2 --threads 1 --nice 19 ${PRETRAIN_ONLY:+--pretrain-only} \
  ${ONLY_TASKS:+--only-tasks "$ONLY_TASKS"}
