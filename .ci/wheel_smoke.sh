#!/usr/bin/env bash
# The package as users get it: build the wheel, install it with CPU torch into a fresh venv, and from a folder
# outside the checkout run the main commands (space, list, proxies, a one-unit regenerate, commit, validate, load).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
quiet() { "$@" > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; return 1; }; }  # pip's index warnings are noise
quiet "$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" "$repo"
wheel=$(ls "$work"/dist/bertbench-*.whl)
echo "wheel: $(basename "$wheel"): $("$python" -m zipfile -l "$wheel" | tail -n +2 | wc -l) files"
"$python" -m venv "$work/venv"
quiet "$work/venv/bin/pip" install -q --disable-pip-version-check "${TORCH:-torch==2.13.0}" "$wheel"
echo "installed in $((SECONDS - start)) s"
mkdir "$work/user" && cd "$work/user"
bb="$work/venv/bin/bertbench"
"$bb" space size
"$bb" list > benchmarks.txt && grep -q "^nas-bench-bert-2023 " benchmarks.txt && grep -q "^nas-bench-nlp " benchmarks.txt
grep -q "^bertbench-mini-ptb-glue " benchmarks.txt  # the release shipped in the wheel, listed by name
grep -q "^bertbench-zero " benchmarks.txt  # the proxy suite shipped in the wheel
grep -q "^bertbench-ptb " benchmarks.txt  # the ptb release, listed by name
t0=$SECONDS
"$bb" proxies leaderboard --out leaderboard > leaderboard.txt && grep -q "== nas-bench-nlp-wikitext-2" leaderboard.txt
test -s leaderboard/leaderboard.png
echo "proxies leaderboard: $((SECONDS - t0)) s (process start included)"
"$bb" proxies list > proxies.txt && head -n 3 proxies.txt
"$bb" regenerate --grid tiny --recipe tiny --out runs/smoke --limit 1 --tasks synthetic-rte --no-progress \
  --set pretrain.steps=4 --set pretrain.warmup_steps=1 --set pretrain.checkpoint_every=2 --set finetune.epochs=1 --set finetune.max_train_examples=64
"$bb" progress runs/smoke | grep -q "every planned result is written"
"$bb" commit runs/smoke --name smoke --version 0.0.1 --out releases --license cc-by-4.0
"$bb" validate releases/smoke-0.0.1
"$bb" reliability releases/smoke-0.0.1 --no-curves | grep -q "reliability unknown: one seed"
"$work/venv/bin/python" - <<'PY'
import bertbench
bench = bertbench.load("releases/smoke-0.0.1")
summary = bench.to_pandas()
assert len(summary) == 1 and summary["status"].eq("ok").all(), summary
print("loaded:", bench.name, bench.version, summary.shape)
assert len(bertbench.paper_2023_grid()) == 500
mini = bertbench.load("bertbench-mini-ptb-glue")  # shipped in the wheel, loaded by name offline
assert mini.to_pandas().shape[0] == 30 and len(mini.to_pandas("runs")) == 396
print("shipped:", mini.name, mini.version)
ptb = bertbench.load("bertbench-ptb")  # 40 architectures x 2 pretraining seeds, offline
assert ptb.to_pandas().shape[0] == 40 and len(ptb.to_pandas("runs")) == 80
print("shipped:", ptb.name, ptb.version)
suite = bertbench.load("bertbench-zero")  # the proxy suite, joined to its targets, offline
assert len(suite.to_pandas("nas-bench-bert-2023")) >= 490 and len(suite.to_pandas("nas-bench-nlp-wikitext-2")) >= 290
print("suite:", suite)
PY
echo "wheel smoke: ok in $((SECONDS - start)) s"
