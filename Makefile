# puhui — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit integration bench lock docs clean system

$(STAMP): requirements.lock pyproject.toml src/puhui/federated/_x25519.c
	bash scripts/setup-system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## demo: create the venv, simulate a small province, ingest it, seed the store, print a summary
demo: $(STAMP)
	$(BIN)/puhui demo
	$(BIN)/puhui serve --seed-demo-users

## test: lint, then every test (unit, integration against SQLite/PostgreSQL/MariaDB/Spark, e2e)
test: $(STAMP) lint
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration tests/e2e

## bench: the benchmarks whose figures are recorded in docs/BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_simulate.py --runs 3
	$(BIN)/python benchmarks/bench_ingest.py --runs 3

## lock: re-resolve pinned dependencies after editing pyproject.toml
lock:
	$(BIN)/pip install --quiet "uv==0.13.8"
	$(BIN)/uv pip compile pyproject.toml --extra spark --extra dev --python-version 3.11 -o requirements.lock

docs: $(STAMP)
	$(BIN)/puhui schema docs

clean:
	rm -rf $(VENV) puhui-data .pytest_cache .ruff_cache
