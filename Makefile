# Whistle: the front door. `make help` lists what you can do.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup system-deps run test lint bench schemas check-rules

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the engine with its dev tools

system-deps: ## Debian packages the tests use: prometheus/promtool, chromium, a CJK font
	bash scripts/install-system-deps.sh

run: $(STAMP) ## set up, then run the engine on the embedded broker with demo traffic
	$(BIN)/whistle run --demo

test: $(STAMP) system-deps ## set up, then run lint and the whole test suite
	$(MAKE) lint
	$(BIN)/pytest

lint: $(STAMP) ## ruff, mypy --strict on engine/, and the import contracts
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/mypy engine
	$(BIN)/lint-imports

bench: $(STAMP) ## benchmarks: core, calendar, runtime through the broker (figures, never pass/fail)
	$(BIN)/python benchmarks/core_bench.py
	$(BIN)/python benchmarks/calendar_bench.py
	$(BIN)/python benchmarks/runtime_bench.py

schemas: $(STAMP) ## regenerate schemas/ from the event models
	$(BIN)/python -m engine.schemas_export

check-rules: $(STAMP) ## check the shipped Xishan rules and run their expected-outcome cases
	$(BIN)/whistle rules check engine/sample/xishan
	$(BIN)/whistle rules test engine/sample/xishan engine/sample/cases/xishan.yaml
