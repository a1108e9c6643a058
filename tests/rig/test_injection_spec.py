"""--inject specs, inject-list and the injection verdict, without a rig run."""
from __future__ import annotations

import pytest

from hil.__main__ import main
from hil.injection.kinds import KINDS, PHASES
from hil.injection.spec import InjectionSpecError, parse_injection
from hil.injection.verdict import judge_injected

BRIEF_KINDS = ("output-overvoltage", "output-overcurrent", "voltage-sensor-stuck", "voltage-sensor-silent",
               "temp-sensor-open", "temp-rising", "module-short", "module-lost", "io-board-lost", "cp-b", "cp-e",
               "cp-f", "estop", "imd-alarm", "imd-invalid", "imd-lost", "meter-lost", "lock-fail", "contactor-weld",
               "ev-negative-target", "ev-silent")


def test_every_kind_of_the_brief_is_there_with_phases_and_codes():
    assert set(BRIEF_KINDS) <= set(KINDS)
    for kind in KINDS.values():
        assert kind.phases and set(kind.phases) <= set(PHASES), kind.name
        assert kind.codes or kind.reaction in ("stop",), kind.name


def test_spec_with_argument_and_delay():
    spec = parse_injection("output-overvoltage:75@charging+1.5")
    assert (spec.kind.name, spec.argument, spec.phase, spec.delay_s) == ("output-overvoltage", 75.0, "charging", 1.5)
    assert spec.text == "output-overvoltage:75@charging+1.5"
    default = parse_injection("output-overvoltage@precharge")
    assert default.argument == 60.0 and default.delay_s == 0.0


@pytest.mark.parametrize("text, part", [
    ("estop", "expected KIND[:ARG]@PHASE"),
    ("nonsense@charging", "unknown kind 'nonsense'"),
    ("estop@idle", "unknown phase 'idle'"),
    ("contactor-weld@charging", "does not apply in charging (it does in: stopping)"),
    ("estop:3@charging", "estop takes no argument"),
    ("output-overvoltage:lots@charging", "VOLTS 'lots' is not a number"),
    ("output-overvoltage:nan@charging", "VOLTS must be a finite number"),
    ("estop@charging+soon", "SECONDS 'soon' is not a number"),
    ("estop@charging+-1", "SECONDS must be from 0 to 600"),
])
def test_bad_spec_names_the_wrong_part(text, part):
    with pytest.raises(InjectionSpecError) as err:
        parse_injection(text)
    assert part in str(err.value)


def test_cli_bad_spec_is_one_line_and_exit_2(capsys):
    assert main(["run", "--inject", "estop@idle"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown phase 'idle'" in err and "Traceback" not in err


def test_inject_list_names_each_kind_its_phases_and_codes(capsys):
    assert main(["inject-list"]) == 0
    out = capsys.readouterr().out
    for kind in KINDS.values():
        line = next(x for x in out.splitlines() if x.startswith(kind.name))
        assert ",".join(kind.phases) in line
        for code in kind.codes:
            assert code in line
    assert "output-overvoltage[:VOLTS=60]" in out


def _report(**record) -> dict:
    base = {"inject": "estop@charging", "kind": "estop", "phase": "charging", "done": True, "codes": ["ESTOP_PRESSED"],
            "fault_code": "ESTOP_PRESSED", "time_to_safe_ms": 4.0, "fault_active_at_new_session": ["ESTOP_PRESSED"],
            "new_session_refused": True}
    base.update(record)
    final = {"contactors_closed": False, "modules_on": False, "output_current_a": 0.0}
    return {"controller_events": True, "injections": [base], "connectors": [{"connector": 1, "final": final}]}


def test_verdict_passes_a_good_record():
    assert judge_injected(None, _report()) == []


@pytest.mark.parametrize("change, words", [
    ({"done": False, "error": None}, "not made"),
    ({"fault_code": "CP_STATE_F", "codes": ["CP_STATE_F"]}, "expected ESTOP_PRESSED"),
    ({"time_to_safe_ms": 1001.0}, "bound 1000 ms"),
    ({"time_to_safe_ms": None}, "never saw the connector safe"),
    ({"new_session_refused": False}, "energized while ESTOP_PRESSED stayed active"),
])
def test_verdict_catches(change, words):
    problems = judge_injected(None, _report(**change))
    assert any(words in p for p in problems), problems


def test_verdict_wants_the_port_in_service_after_a_warning():
    record = {"inject": "ev-negative-target@charging", "kind": "ev-negative-target", "codes": ["EV_REQUEST_INVALID"],
              "fault_code": "EV_REQUEST_INVALID", "fault_active_at_new_session": [], "new_session_refused": True}
    assert any("refused a new session" in p for p in judge_injected(None, _report(**record)))


def test_verdict_catches_an_unsafe_end():
    report = _report()
    report["connectors"][0]["final"]["modules_on"] = True
    assert any("not safe at the end" in p for p in judge_injected(None, report))


def test_summary_names_each_injection_its_code_time_to_safe_and_the_new_session():
    from hil.injection.verdict import summary_rows
    record = _report()["injections"][0]
    record.update(t=2.2, peak_voltage_v=338.9, car_max_voltage_v=420.0)
    rows = summary_rows({"injections": [record, {"inject": "cp-b@stopping", "done": False}]})
    assert rows[0] == ("inject", "estop@charging at t=2.2 s -> ESTOP_PRESSED, safe in 4.0 ms, peak 338.9 V "
                                 "(car max 420.0 V), new session refused")
    assert rows[1] == ("inject", "cp-b@stopping: not made (its phase never came)")
