# Everything creates .venv on first use and installs the pinned dependencies (constraints.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## A full simulated DC charging session in the rig (desk setup, one CCS1 connector).
demo: $(STAMP)
	$(VENV)/bin/charger-hil run --scenario dc-session --setup desk --report demo-report.json

## The whole test suite, rig tiers included.
test: $(STAMP)
	$(PY) -m pytest

## Unit tests only (no whole-session rig runs).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not rig"

## Benchmarks: figures printed and saved to bench/results.json.
bench: $(STAMP)
	$(PY) -m tools.bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache demo-report.json test-artifacts
