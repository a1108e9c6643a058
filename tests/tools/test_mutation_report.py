"""The mutation report counts mutmut's own verdicts per file and sets log-text-only survivors apart."""
import json

import pytest

from tools.mutation_report import MutantDiffs, only_log_calls_differ, tally

STATUS = {1: "killed", 0: "survived", 33: "no tests", 36: "timeout", None: "not checked"}
ORIGINAL = """def guard(volts, limit, cid):
    log.warning("connector %d: %.0f V above %.0f V",
                cid, volts, limit)
    if volts > limit:
        trip(cid)
"""


@pytest.mark.parametrize("old, new, log_only", [
    ('log.warning("connector %d: %.0f V above %.0f V",', 'log.warning(None,', True),
    ("                cid, volts, limit)", "                None, volts, limit)", True),  # a continuation line
    ("                cid, volts, limit)", "                cid, volts, )", True),
    ("    if volts > limit:", "    if volts >= limit:", False),
    ("        trip(cid)", "        trip(None)", False),
    ("        trip(cid)", "        trip(cid)", False),  # nothing differs: not a log-only change either
])
def test_only_changes_inside_log_call_statements_are_log_only(old, new, log_only):
    assert only_log_calls_differ(ORIGINAL, ORIGINAL.replace(old, new)) is log_only


def test_a_log_call_turned_into_other_code_is_not_log_only():
    mutant = ORIGINAL.replace('log.warning("connector %d: %.0f V above %.0f V",', 'trip(cid) or print(')
    assert not only_log_calls_differ(ORIGINAL, mutant)


def test_tally_per_file(tmp_path):
    meta = tmp_path / "controller" / "guard.py.meta"
    meta.parent.mkdir()
    meta.write_text(json.dumps({"exit_code_by_key": {
        "m_1": 1, "m_2": 0, "m_3": 0, "m_4": 33, "m_5": 36, "m_6": None}}))
    log_only = {"m_2": True, "m_3": False}
    figures = tally([meta], tmp_path, STATUS.__getitem__, lambda path, name: log_only[name])
    row = figures["controller/guard.py"]
    assert (row.killed, row.timeout, row.survived, row.survived_log_only, row.no_tests, row.other) == (1, 1, 1, 1, 1, 1)
    assert row.survivors == ["m_3"]
    assert row.score == 2 / 3


MUTATED = """def guard(volts, limit):
    args = [volts, limit]
    return _mutmut_trampoline(x_guard__mutmut_orig, x_guard__mutmut_mutants, args)


def x_guard__mutmut_orig(volts, limit):
    log.info("checking")
    return volts > limit


def x_guard__mutmut_1(volts, limit):
    log.info("checking")
    return volts >= limit


def x_guard__mutmut_2(volts, limit):
    log.info(None)
    return volts > limit
"""


def test_diffs_are_read_from_the_mutated_file_as_mutmut_show_prints_them(tmp_path):
    (tmp_path / "controller").mkdir()
    (tmp_path / "controller" / "guard.py").write_text(MUTATED)
    diffs = MutantDiffs(tmp_path)
    logic = diffs("controller/guard.py", "guard.x_guard__mutmut_1")
    assert "-    return volts > limit" in logic and "+    return volts >= limit" in logic
    assert not diffs.log_only("controller/guard.py", "guard.x_guard__mutmut_1")
    assert diffs.log_only("controller/guard.py", "guard.x_guard__mutmut_2")
