"""Verdicts that cannot lie: every scenario's judge checks why each session ended and that its injection was
made; a scenario that cannot run the way it was asked refuses at once, in one line, with exit status 2."""
from __future__ import annotations

import asyncio
import copy
import time

import pytest

from hil.__main__ import main
from hil.controller_handle import InProcessController
from hil.runner import judge, run_scenario
from hil.scenarios import SCENARIOS
from hil.setup import load_setup

pytestmark = pytest.mark.timeout(120)

PASSED_USER_STOP = {
    "result": "ok", "faults": [], "controller_events": True,
    "injection": {"action": "user_stop", "connector": 1, "t": 3.1, "done": True},
    "connectors": [{"connector": 1, "energy_kwh": 0.05, "stop_reason": "user_stop",
                    "car": {"ok": True, "reason": "evse_stop", "soc": 55.0},
                    "final": {"state": "available", "contactors_closed": False, "modules_on": False,
                              "output_current_a": 0.0}}],
}


def test_the_judge_passes_a_user_stop_that_ended_for_the_stop():
    assert judge(SCENARIOS["user-stop"], PASSED_USER_STOP) == []


def test_the_judge_fails_a_session_that_ended_for_another_reason():
    report = copy.deepcopy(PASSED_USER_STOP)
    report["connectors"][0]["stop_reason"] = "ev_stop"  # the car reached its target: the stop was never seen
    assert judge(SCENARIOS["user-stop"], report) == [
        "connector 1 ended for 'ev_stop', expected 'user_stop'"]


def test_the_judge_fails_an_injection_that_was_never_made():
    report = copy.deepcopy(PASSED_USER_STOP)
    report["injection"] = {"action": "user_stop", "connector": 1, "t": 3.1, "done": False,
                           "error": "RuntimeError: user-stop needs the service console"}
    problems = judge(SCENARIOS["user-stop"], report)
    assert "the injection user_stop was not made: RuntimeError: user-stop needs the service console" in problems
    report["injection"] = None
    assert "the injection user_stop was not made: the moment for it never came" in judge(SCENARIOS["user-stop"],
                                                                                        report)


def test_every_scenario_says_how_its_sessions_must_end():
    for scenario in SCENARIOS.values():
        assert scenario.expect_stop and scenario.others_stop, scenario.name
        if scenario.expect_result == "fault" and scenario.name != "heartbeat-lost":
            assert all(reason.startswith(("emergency:", "error:")) for reason in scenario.expect_stop), scenario.name


def test_a_stop_request_that_fails_fails_the_run(monkeypatch):
    """The error used to be swallowed: user-stop passed because the car then charged to its target."""
    def refuse(self, connector_id):
        raise RuntimeError("user-stop needs the service console")
    monkeypatch.setattr(InProcessController, "request_stop", refuse)
    report, problems = asyncio.run(run_scenario("user-stop", load_setup("desk")))
    assert report["injection"]["done"] is False
    assert "the injection user_stop was not made: RuntimeError: user-stop needs the service console" in problems
    assert any(p.startswith("connector 1 ended for 'ev_stop'") for p in problems)


def _refused(argv: list[str], capsys) -> str:
    started = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - started < 5.0  # at once, not after a 30 s wait
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_user_stop_refuses_a_separate_controller_at_once(capsys):
    err = _refused(["run", "--separate-process", "--scenario", "user-stop", "--can", "udp_multicast:239.74.163.9",
                    "--quiet"], capsys)
    assert err.startswith("charger-hil: scenario user-stop asks the controller to stop through its Python interface")


def test_heartbeat_lost_refuses_a_controller_the_rig_did_not_start(capsys):
    err = _refused(["rig", "--scenario", "heartbeat-lost", "--can", "udp_multicast:239.74.163.9",
                    "--secc", "[::1]:47000", "--quiet"], capsys)
    assert "kills the controller: the rig can only do that to one it started" in err


def test_separate_process_on_the_virtual_bus_refuses_at_once_with_the_recipe(capsys):
    err = _refused(["run", "--separate-process", "--quiet"], capsys)
    assert "python-can's 'virtual' bus does not leave the rig's process" in err
    assert "--can socketcan:vcan0" in err
    assert "ip netns exec chg charger-hil run --separate-process --can udp_multicast:239.74.163.2" in err


def test_a_controller_that_never_comes_up_is_one_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr("hil.runner.START_TIMEOUT_S", 0.3)
    monkeypatch.setattr("hil.runner.ScenarioRun._all_available", lambda self, ids: False)
    assert main(["run", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == ("charger-hil: timed out waiting for every connector available; is the controller on the rig's "
                   "CAN bus?\n")
