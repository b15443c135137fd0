# The README's two commands: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck contracts bench clean postgres-binaries

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo is a simulation: the command line, a progress bar and plots (extra `sim`).
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[sim]'
	touch $@

# The benchmarks also measure the SQLite and PostgreSQL stores (their extras).
$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[sqlite,postgres]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Three strategies on the bundled German network (10 warehouses, 100 stores, 2,000 SKUs):
# prints the comparison, writes CSV, JSON and plots to demo-output/.
demo: $(VENV)/.demo-installed
	$(BIN)/omsims compare example --strategies priority,nearest,minimize-splits --out demo-output

# The tests start a throwaway PostgreSQL 15; install its binaries only if they are missing.
postgres-binaries:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)

test: $(VENV)/.test-installed postgres-binaries
	$(BIN)/python -m pytest
	$(BIN)/ruff check src tests examples benchmarks tools
	$(BIN)/ruff format --check src tests examples benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
