# fairmtl: two commands for a new user (see README.md): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-all lint format browser bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned below 2.14 in the extra: pip then takes the CPU wheel of 2.13 when
# one is on disk instead of downloading a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e ".[torch,distributed,dev,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/fairmtl demo
	$(BIN)/fairmtl demo --data hospitals

lint: install
	$(BIN)/ruff check fairmtl tests benchmarks scripts
	$(BIN)/ruff format --check fairmtl tests benchmarks scripts

format: install
	$(BIN)/ruff format fairmtl tests benchmarks scripts
	$(BIN)/ruff check --fix fairmtl tests benchmarks scripts

# Debian's chromium for the report's browser test; the test skips, saying why, without it.
browser:
	@bash scripts/ensure_chromium.sh || echo "chromium could not be installed: the browser test will be skipped"

test: install lint browser
	$(BIN)/python -m pytest

test-all: install lint browser
	$(BIN)/python -m pytest -m ""

bench: install
	$(BIN)/python -m benchmarks

bench-quick: install
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
