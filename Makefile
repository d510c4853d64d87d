# `make run` and `make test` set everything up on a fresh machine that has
# python3 (3.11 or newer) and the package index. Every package comes from the
# hash-pinned lock, requirements.txt and requirements-dev.txt; requirements/
# pins the tools that install it (see README, "Maintainers").
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# uv installs the lock; it is itself installed, hash-pinned, into its own venv.
TOOLS  := .venv-uv
UV     := $(TOOLS)/bin/uv
LATEST := .venv-latest

# Never fetch an interpreter: the machine's python3 is the one to use.
export UV_PYTHON_DOWNLOADS := never

LOCK_FLAGS := --universal --generate-hashes --python-version 3.11 --quiet
BUILD_FLAGS := --build-constraints requirements/build.txt --require-build-hashes

.PHONY: run build check test lint typecheck golden bench bench-all bench-load \
	bench-connections bench-compare bench-publish lock test-latest clean

# The service: builds, then watches seeds/ and serves output/ on
# http://127.0.0.1:8080/ until Ctrl-C.
run: $(VENV)/.installed-main
	$(BIN)/feeds run --config config/feeds.yaml

# One build, then exit.
build: $(VENV)/.installed-main
	$(BIN)/feeds build --config config/feeds.yaml

check: $(VENV)/.installed-main
	$(BIN)/feeds check --config config/feeds.yaml

$(UV): requirements/uv.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements/uv.txt
	touch $@

# One venv, synced exactly to one lock file: the app's (main) or the app's with
# the test and bench tools (dev). feeds itself is built by the backend inside uv.
# Bytecode is compiled here, once, as pip would: uv leaves it to the first
# import, which never writes it where PYTHONDONTWRITEBYTECODE is set or
# site-packages is read-only, and then every start of feeds and of each of
# its worker processes compiles its imports again.
LOCK_main := requirements.txt
LOCK_dev  := requirements-dev.txt
.SECONDEXPANSION:
$(VENV)/.installed-%: $$(LOCK_$$*) requirements/build.txt pyproject.toml $(UV)
	rm -f $(VENV)/.installed-*
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(BUILD_FLAGS) \
		--compile-bytecode $(LOCK_$*)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps $(BUILD_FLAGS) -e .
	$(BIN)/python -m compileall -q feeds
	touch $@

test: lint typecheck
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check feeds tests bench
	$(BIN)/ruff format --check feeds tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Refreshes the lock within pyproject's ranges: every package to its newest
# allowed release, or only PACKAGE (make lock PACKAGE=pyyaml). Review and commit
# the lock files with the change that needed it.
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra test --extra bench $(LOCK_FLAGS) \
		$(if $(PACKAGE),--upgrade-package $(PACKAGE),--upgrade) -o requirements-dev.txt
	$(UV) pip compile pyproject.toml -c requirements-dev.txt $(LOCK_FLAGS) -o requirements.txt
	$(UV) pip compile requirements/build.in $(LOCK_FLAGS) \
		$(if $(PACKAGE),--upgrade-package $(PACKAGE),--upgrade) -o requirements/build.txt
	$(UV) pip compile requirements/uv.in $(LOCK_FLAGS) -o requirements/uv.txt

# The whole suite against the newest releases pyproject's ranges allow, in a venv
# of its own: drift found on purpose by a maintainer, not by a newcomer.
test-latest: $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LATEST)
	$(UV) pip install --quiet --python $(LATEST)/bin/python --refresh --upgrade -e '.[test,bench]'
	$(UV) pip list --python $(LATEST)/bin/python --format freeze > $(LATEST)/versions.txt
	FEEDS_UNLOCKED=1 $(LATEST)/bin/python -m pytest -p no:cacheprovider

# Rewrites tests/golden/ from the current code; review the diff before committing.
golden: $(VENV)/.installed-dev
	FEEDS_REGENERATE_GOLDEN=1 $(BIN)/python -m pytest tests/test_golden.py -q

# Save-to-feed latency of the daemon (figures for the issue notes).
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.latency --articles 1000 --edits 50

# Everything, beside Hugo when installed (apt-get install hugo), then publishing
# to object storage; writes bench/RESULTS.md; then prints the restart to ready
# at 100k. The million-article row is its own run (15 minutes, 25 GB of disk):
# python -m bench.million
bench-all: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.publish
	$(BIN)/python -m bench.restart --articles 100000

# Pushes of the 10k and 100k outputs to moto's S3 server on loopback: cold, with
# nothing changed, after one article's change; writes the publish section of
# bench/RESULTS.md (about 20 minutes).
bench-publish: $(VENV)/.installed-dev
	$(BIN)/python -m bench.publish

# 200 clients polling with conditional GETs while the daemon rebuilds every second,
# then nginx on the same folder; writes the load section of bench/RESULTS.md.
bench-load: $(VENV)/.installed-dev
	$(BIN)/python -m bench.load

# 2,000 idle and 1,000 slow connections while readers poll, then the same against
# nginx; writes the connections section of bench/RESULTS.md.
bench-connections: $(VENV)/.installed-dev
	$(BIN)/python -m bench.connections --baseline --nginx

# A change that must not change behaviour, against REV (make bench-compare REV=v0.1.0):
# the 10k output tree byte for byte, then cold, warm and save->feed medians of both.
bench-compare: $(VENV)/.installed-dev
	$(BIN)/python -m bench.compare $(REV)

clean:
	rm -rf $(VENV) $(TOOLS) $(LATEST) output/all.* output/topics .mypy_cache .pytest_cache \
		.ruff_cache
