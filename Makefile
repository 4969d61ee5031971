# One entry point for setting up and running snn-robust on a fresh machine.
# `make setup` is idempotent: it creates .venv once and reinstalls only when pyproject.toml changes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The offline bundle lives beside the checkout (../shared/bundle); override with SNN_ROBUST_BUNDLE=...
export SNN_ROBUST_BUNDLE ?= $(abspath ../shared/bundle)

.PHONY: setup run test test-slow doctor
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first, from the local CPU wheel; otherwise the resolver pulls gigabytes of CUDA builds.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[test,ray]"  # ray: the optional grid executor, installed so its tests run
	touch $@

# The main job: check resources, then train (or reuse) the original TextCNN and the population-1 fine-tuned SNN (the
# paper's Table 2 models) and attack both with PWWS.
run: setup
	$(BIN)/snn-robust doctor
	$(BIN)/snn-robust run --dataset sst2 --attack pwws

# The default tier runs anywhere in about two minutes: it makes its own tiny data and hides the bundle.
test: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

# The real resources (the bundle), worker processes, Ray clusters, the wheel install and the README's examples.
test-slow: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m slow
