"""The mutation report counts mutmut's own verdicts per file and sets log-text-only survivors apart."""
import json

from tools.mutation_report import MutantDiffs, changes_only_log_calls, tally

STATUS = {1: "killed", 0: "survived", 33: "no tests", 36: "timeout", None: "not checked"}
LOG_DIFF = '--- a.py\n+++ a.py\n@@ -1 +1 @@\n-        log.info("x %d", 1)\n+        log.info(None, 1)\n'
LOGIC_DIFF = '--- a.py\n+++ a.py\n@@ -1 +1 @@\n-    if volts > limit:\n+    if volts >= limit:\n'


def test_a_changed_log_call_is_log_only_and_a_changed_condition_is_not():
    assert changes_only_log_calls(LOG_DIFF)
    assert not changes_only_log_calls(LOGIC_DIFF)
    assert not changes_only_log_calls("")


def test_tally_per_file(tmp_path):
    meta = tmp_path / "controller" / "guard.py.meta"
    meta.parent.mkdir()
    meta.write_text(json.dumps({"exit_code_by_key": {
        "m_1": 1, "m_2": 0, "m_3": 0, "m_4": 33, "m_5": 36, "m_6": None}}))
    diffs = {"m_2": LOG_DIFF, "m_3": LOGIC_DIFF}
    figures = tally([meta], tmp_path, STATUS.__getitem__, lambda path, name: diffs[name])
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
    assert not changes_only_log_calls(logic)
    assert changes_only_log_calls(diffs("controller/guard.py", "guard.x_guard__mutmut_2"))
