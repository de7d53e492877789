# vmtui: the two commands a user needs are `make demo` and `make test` (see README.md).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test check lint typecheck unit bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/vmtui lab up
	$(BIN)/vmtui

test: setup check
	@bash scripts/run-tests.sh

check: lint typecheck

lint:
	$(BIN)/ruff check vmtui tests bench scripts
	$(BIN)/ruff format --check vmtui tests bench scripts
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit -q

bench: setup
	$(BIN)/python bench/bench_collector.py
	$(BIN)/python bench/bench_tui.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache snapshot_report.html
