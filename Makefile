# vmtui: the two commands a user needs are `make demo` and `make test` (see README.md).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test check lint typecheck unit bench mutation clean

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

# The package, then the tests, benchmarks and scripts (each tree has its own import roots).
typecheck:
	$(BIN)/mypy
	MYPYPATH=tests $(BIN)/mypy --strict --explicit-package-bases \
		tests/unit tests/integration tests/lab tests/conftest.py tests/fixtures_lab.py tests/sriov_host.py tests/fixtures_resources.py \
		tests/recorded_migrator.py
	$(BIN)/mypy --strict --explicit-package-bases tests/tui scripts
	MYPYPATH=bench $(BIN)/mypy --strict --explicit-package-bases bench

unit: setup
	$(BIN)/pytest tests/unit -q

# Deliberate bugs in the core rules (metrics, explain, filters, the XML readers, config, lifecycle rules, and
# the ops rules: forecast, stall/balloon/KSM policies, sizes, placement, pre-checks), to show the unit tests
# catch them. Long (about 17 min with one child on a busy 2-core machine); not part of `make test`. Report: per
# module, exit 1 below 90 % (docs/mutation.md). MUTMUT_CHILDREN=1 on a shared machine.
# MODULES="vmtui/ops/sizes.py ..." (paths as in pyproject's only_mutate): only those modules, a few minutes.
MUTMUT_CHILDREN ?= 2
MODULES ?=
mutation: setup
	$(BIN)/pip install -q --disable-pip-version-check -e '.[mutation]'
	rm -rf mutants  # mutmut 3 keeps old verdicts: a survivor is not tried again against tests added since
	$(BIN)/mutmut run --max-children $(MUTMUT_CHILDREN) $(foreach m,$(MODULES),'$(subst /,.,$(m:.py=)).*') || true
	$(BIN)/python scripts/mutation_report.py $(MODULES)

bench: setup
	$(BIN)/python bench/bench_collector.py
	$(BIN)/python bench/bench_tui.py
	$(BIN)/python bench/bench_export.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache snapshot_report.html mutants
