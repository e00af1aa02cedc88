# crabplus — make help lists the targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# torch is pinned to the CPU build that lies on disk here; unpinned, pip pulls a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: help setup test test-fast demo eval-all lint bench clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/crabplus: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q $(TORCH_PIN) -e ".[test]"
	touch $@

setup: $(BIN)/crabplus  ## create .venv and install crabplus with test extras

test: setup  ## run the whole test suite (CI runs this)
	$(BIN)/python -m pytest -m "not gpu" -q

test-fast: setup  ## unit tests only
	$(BIN)/python -m pytest -m "unit" -q

demo: setup  ## the embedded transfer study on the synthetic world (< 15 min on 2 CPU cores)
	$(BIN)/python tools/demo.py

eval-all: setup  ## evaluate the configured checkpoints on every configured task
	$(BIN)/crabplus eval-all --config configs/eval_all.yaml

lint: setup  ## ruff
	$(BIN)/ruff check src tests tools

clean:  ## remove runs and caches
	rm -rf runs .pytest_cache
