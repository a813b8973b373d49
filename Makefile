# make demo: run the main job on the embedded default data.   make test: run the test suite.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test install lint bench clean

$(BIN)/bertbench: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)" -e ".[dev]"
	touch $(BIN)/bertbench

install: $(BIN)/bertbench

demo: install
	$(BIN)/bertbench demo

test: install
	$(BIN)/python -m pytest -q tests

lint: install
	$(BIN)/ruff check bertbench tests bench

bench: install
	$(BIN)/python bench/perf/model_step.py

clean:
	rm -rf $(VENV) build *.egg-info demo-output
