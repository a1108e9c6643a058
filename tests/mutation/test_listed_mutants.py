"""Each safety-core bug issue 19 lists, applied to a scratch copy of the sources, is caught by its tests; the
same tests pass on the unchanged copy (about 20 s for all of them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation.listed_mutants import MUTANTS, ROOT, apply, run_tests, scratch_copy

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return scratch_copy(tmp_path_factory.mktemp("listed-mutants"))


def test_every_listed_mutation_still_fits_todays_code():
    for mutant in MUTANTS:
        assert (ROOT / mutant.path).read_text().count(mutant.old) == 1, mutant.name


def test_the_chosen_tests_pass_without_mutation(scratch):
    tests = sorted({t for m in MUTANTS for t in m.tests})
    done = run_tests(scratch, tuple(tests))
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_listed_mutant_is_killed(mutant, scratch):
    original = (scratch / mutant.path).read_text()
    apply(mutant, scratch)
    try:
        done = run_tests(scratch, mutant.tests)
    finally:
        (scratch / mutant.path).write_text(original)
    assert done.returncode == 1, f"{mutant.name} ({mutant.why}) survived:\n{done.stdout[-2000:]}"
