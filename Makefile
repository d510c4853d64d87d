# `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run build check test lint typecheck golden bench clean

run: build

build: $(STAMP)
	$(BIN)/feeds build --config config/feeds.yaml

check: $(STAMP)
	$(BIN)/feeds check --config config/feeds.yaml

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

test: lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check feeds tests bench
	$(BIN)/ruff format --check feeds tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Rewrites tests/golden/ from the current code; review the diff before committing.
golden: $(STAMP)
	FEEDS_REGENERATE_GOLDEN=1 $(BIN)/python -m pytest tests/test_golden.py -q

clean:
	rm -rf $(VENV) output/all.* output/topics .mypy_cache .pytest_cache .ruff_cache
