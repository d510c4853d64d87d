# `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run build check test lint typecheck golden bench bench-all bench-load clean

# The service: builds, then watches seeds/ and serves output/ on
# http://127.0.0.1:8080/ until Ctrl-C.
run: $(STAMP)
	$(BIN)/feeds run --config config/feeds.yaml

# One build, then exit.
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

# Save-to-feed latency of the daemon (figures for the issue notes).
bench: $(STAMP)
	$(BIN)/python -m bench.latency --articles 1000 --edits 50

# Everything, beside Hugo when installed (apt-get install hugo); writes bench/RESULTS.md.
bench-all: $(STAMP)
	$(BIN)/python -m bench.run

# 200 clients polling with conditional GETs while the daemon rebuilds every second,
# then nginx on the same folder; writes the load section of bench/RESULTS.md.
bench-load: $(VENV)/.bench
	$(BIN)/python -m bench.load

$(VENV)/.bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

clean:
	rm -rf $(VENV) output/all.* output/topics .mypy_cache .pytest_cache .ruff_cache
