# Everything creates .venv on first use and installs the pinned dependencies (constraints.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint-imports test-fast test-injection bench bytecode clean josev josev-if-possible test-vcan fuzz soak kill-soak mutate ocpp-matrix

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## Compiled bytecode, as an installed controller has it: without it every controller process compiles the
## generated EXI codec again (about 0.3 s and 20 MB of peak memory), even where PYTHONDONTWRITEBYTECODE is set.
## Incremental: only changed files are compiled again.
bytecode: $(STAMP)
	$(PY) -m compileall -q controller hil tools

## A full simulated DC charging session in the rig (desk setup, one CCS1 connector); it ends by printing where
## the report (JSON), the time series (CSV) and the plot (PNG) are.
demo: bytecode
	$(VENV)/bin/charger-hil run --scenario dc-session --setup desk --report demo-report.json

## The import contracts (pyproject [tool.importlinter]): the rig meets the controller only through
## controller.formats and hil/controller_handle.py, nothing imports tools/, the controller's layers hold.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

## The whole test suite, rig tiers included: the independent tests in TEST_WORKERS processes (pytest-xdist),
## then the ones marked `alone` (tests/conftest.py) one at a time; both parts always run, either failing fails.
TEST_WORKERS ?= 2
test: bytecode josev-if-possible lint-imports
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not alone" --durations=15; parallel=$$?; \
	$(PY) -m pytest -m alone --durations=15; alone=$$?; \
	echo "make test: parallel part exit $$parallel, alone part exit $$alone"; \
	test $$parallel = 0 && test $$alone = 0

## Unit tests only (no whole-session rig runs).
test-fast: bytecode
	$(PY) -m pytest -m "not rig"

## The whole fault-injection matrix: every kind x every phase where it applies (charger-hil inject-list), about
## 8 minutes; `make test` runs one case per kind.
test-injection: bytecode
	INJECTION_MATRIX=full $(PY) -m pytest -m injection tests/rig/test_injection_matrix.py

## The Josev tier's own venv: EcoG-io's iso15118 EVCC (an independent car) and a Java runtime for its EXI codec.
JOSEV_VENV := .venv-josev
JOSEV_STAMP := $(JOSEV_VENV)/.installed-stamp
JOSEV_REQUIREMENTS := tests/interop/requirements-josev.txt

$(JOSEV_STAMP): $(JOSEV_REQUIREMENTS)
	command -v java >/dev/null || { test "$$(id -u)" = 0 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; } || \
		echo "josev: no Java runtime and not root to install default-jre-headless; the tier will say so"
	test -x $(JOSEV_VENV)/bin/python || $(PYTHON) -m venv $(JOSEV_VENV)
	$(JOSEV_VENV)/bin/python -m pip install --quiet -r $(JOSEV_REQUIREMENTS)
	touch $(JOSEV_STAMP)

josev: $(JOSEV_STAMP)

## make test runs the Josev tier too; a failed install is reported by the tier itself (it fails with CI=true).
josev-if-possible:
	-@$(MAKE) --no-print-directory josev

## Every rig scenario a separate controller supports, over SocketCAN vcan0 in one guest (tools/vcan-run);
## `make test` runs a slice of them (a session, an emergency stop, a module loss). Under CPU emulation
## (no KVM, no AF_CAN) expect a minute or more per scenario.
test-vcan: bytecode
	VCAN_SCENARIOS=all $(PY) -m pytest tests/vcan

## Coverage-guided fuzzing (tools/fuzz): every parser at a wire under atheris, FUZZ_SECONDS each (default 600),
## one target after the other; prints executions, coverage and findings per target (corpus and findings in
## test-artifacts/fuzz/). FUZZ_TARGETS="exi-din can" runs only those. atheris ships a manylinux wheel for
## x86_64; elsewhere pip builds it from source and needs clang (apt-get install clang).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
fuzz: bytecode
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,fuzz]'
	$(PY) -m tools.fuzz --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

## Mutation testing of the safety core ([tool.mutmut] in pyproject): mutmut mutates the connector, the fault
## catalogue, the I/O board and module-group drivers and the SECC handlers in a copy (mutants/, ignored by git)
## and runs the unit tests against each; prints killed / survived per file, saves bench/mutation.json.
MUTATE_CHILDREN ?= 2
mutate: bytecode
	nice -n 10 $(PY) -m tools.mutation_report --max-children $(MUTATE_CHILDREN)

## Benchmarks: figures printed and saved to bench/results.json, every cabinet linked to the rig's CSMS over TLS.
bench: bytecode
	$(PY) -m tools.bench

## Every rig scenario on the nevi setup with OCPP to the rig's CSMS over ws, wss and mutual TLS (security profiles
## 1, 2, 3; charger-hil run --ocpp-profile N), about 15 minutes; `make test` runs two cases.
ocpp-matrix: bytecode
	OCPP_MATRIX=full $(PY) -m pytest tests/rig/test_ocpp_matrix.py

## Soak (issue 19): SOAK_SESSIONS consecutive sessions on one controller (nevi, four ports, DIN and ISO-2, stops,
## unplugs, faults); RSS, fds, threads, tasks and store size every 50 sessions with the slope after warm-up, in
## bench/soak.json and bench/soak.png; fails on growth or a session missing from the store. About 15 minutes.
## `make test` runs a short soak (tests/soak). SOAK_SEED replays a run.
SOAK_SESSIONS ?= 1000
SOAK_SEED ?=
soak: bytecode
	$(PY) -m tools.bench.soak --sessions $(SOAK_SESSIONS) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

## Kill soak (issue 19): KILLS times SIGKILL of the controller process at a random instant of a session, restart on
## the same store, and check the cabinet went safe, the store recovered every session and booked the outage, and
## the restart was clean (bench/kill_soak.json). Root: a private network namespace and veth links. `make test`
## runs 10 kills (tests/soak/test_kill_at_random.py).
KILLS ?= 200
kill-soak: bytecode
	$(PY) -m tools.bench.kill_soak --kills $(KILLS) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

clean:
	rm -rf $(VENV) $(JOSEV_VENV) *.egg-info .pytest_cache demo-report.json demo-report-series.csv demo-report-plot.png test-artifacts
