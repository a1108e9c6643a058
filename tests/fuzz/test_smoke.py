"""A short, deterministic run of every fuzz target (seeds, then mutations of them), and one short atheris
run to prove the coverage-guided runner works; `make fuzz` is the long run."""
from __future__ import annotations

import importlib.util
import random

import pytest

from tests.fuzz.harness import TARGETS, loud_logs, one_input, quiet_logs
from tools.fuzz.mutate import mutate

MUTATIONS = 300


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(TARGETS))
def test_target_survives_its_seeds_and_their_mutations(name):
    run = one_input(name)
    seeds = TARGETS[name].seeds()
    assert seeds, f"{name} has no seeds"
    rng = random.Random(name)
    quiet_logs()
    try:
        for seed in seeds:
            run(seed)
        for index in range(MUTATIONS):
            data = mutate(rng.choice(seeds), rng)
            try:
                run(data)
            except Exception as exc:
                raise AssertionError(f"{name}: mutation {index} {data.hex()} raised {exc!r}") from exc
    finally:
        loud_logs()


@pytest.mark.timeout(120)
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris not installed (pip install -c constraints.txt -e '.[fuzz]')")
def test_atheris_runs_a_target_and_reports_executions_and_coverage(tmp_path):
    from tools.fuzz.runner import run_target

    report = run_target(TARGETS["v2gtp"], 3, tmp_path / "v2gtp")
    assert report.exit_code == 0 and not report.findings and not report.errors, report
    assert report.executions > 100 and report.coverage > 10, report
