# Whistle: the front door. `make help` lists what you can do.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup native system-deps run test lint bench schemas check-rules

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The compiled core (mypyc): rebuilt whenever a source of engine/domain changes. Without a C
# compiler the build fails, says so, and the Python sources run (engine/native.py).
NATIVE := engine/domain/_native.json
CORE_SOURCES := $(shell find engine/domain -name '*.py')

$(NATIVE): $(STAMP) $(CORE_SOURCES) scripts/build_native.py
	$(BIN)/python scripts/build_native.py || echo "make: the compiled core was not built; the Python sources run"

setup: $(STAMP) $(NATIVE) ## create .venv, install the engine with its dev tools, compile the core

native: $(STAMP) ## compile the core's hot modules with mypyc (WHISTLE_PURE=1 runs the sources)
	$(BIN)/python scripts/build_native.py

system-deps: ## Debian packages the tests use: prometheus/promtool, chromium, a CJK font
	bash scripts/install-system-deps.sh

run: $(STAMP) $(NATIVE) ## set up, then run the engine on the embedded broker with demo traffic
	$(BIN)/whistle run --demo

test: $(STAMP) $(NATIVE) system-deps ## set up, then run lint and the whole test suite
	$(MAKE) lint
	$(BIN)/pytest

lint: $(STAMP) ## ruff, mypy --strict on engine/, and the import contracts
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/mypy engine
	$(BIN)/lint-imports

bench: $(STAMP) $(NATIVE) ## benchmarks: core, calendar, runtime through the broker (figures, never pass/fail)
	$(BIN)/python benchmarks/core_bench.py
	$(BIN)/python benchmarks/calendar_bench.py
	$(BIN)/python benchmarks/runtime_bench.py

schemas: $(STAMP) ## regenerate schemas/ from the event models
	$(BIN)/python -m engine.schemas_export

check-rules: $(STAMP) ## check the shipped Xishan rules and run their expected-outcome cases
	$(BIN)/whistle rules check engine/sample/xishan
	$(BIN)/whistle rules test engine/sample/xishan engine/sample/cases/xishan.yaml
