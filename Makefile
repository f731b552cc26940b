# reprobuild — the two commands a newcomer needs:  make demo  |  make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all dev demo test check lint-code bench clean

all: test

# A venv with the package (editable) and the dev tools; reinstalled when pyproject changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)

# The main job on the bundled examples.
demo: $(STAMP)
	@bash scripts/demo.sh

# The whole test suite (what CI runs), then ruff and mypy.
test: $(STAMP)
	$(BIN)/python scripts/prefetch_test_wheels.py
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory check

check: $(STAMP)
	$(BIN)/ruff check reprobuild tests benchmarks scripts
	$(BIN)/mypy

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
