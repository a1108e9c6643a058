"""Every input the fuzzers found (tests/fuzz/corpus/<target>/<name>) passes its target's property now: only
the declared error type, if any, comes out of the parser."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import TARGETS, loud_logs, one_input, quiet_logs

pytestmark = pytest.mark.timeout(60)

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


def test_every_corpus_folder_names_a_target():
    assert CASES, "the regression corpus is empty"
    assert {p.parent.name for p in CASES} <= set(TARGETS)


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_found_input_passes_its_target(path):
    quiet_logs()
    try:
        one_input(path.parent.name)(path.read_bytes())
    finally:
        loud_logs()
