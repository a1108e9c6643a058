"""The store recorder turns each declared event into the same store writes the string events made."""
from __future__ import annotations

import pytest

from controller.formats.events import (ConsoleLogin, ControllerStarted, FaultCleared, FaultRaised, PhaseChanged,
                                       SessionEnded, SessionStarted, SlacState, V2gClosed)
from controller.records import StoreRecorder

pytestmark = pytest.mark.timeout(10)

SESSION = {"session_id": "0000000000000001", "connector": 1, "evcc_id": "", "start_t": 10.0, "end_t": None,
           "energy_kwh": 0.0, "peak_kw": 0.0, "stop_reason": "", "fault_codes": [], "energy_source": "modules",
           "meter_start_wh": None}


class StoreSpy:
    """Records the calls the recorder makes (the store itself is tested on its own)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return 7 if name == "session_started" else None
        return call


def record(*events):
    spy = StoreSpy()
    recorder = StoreRecorder(spy)
    for event in events:
        recorder(event)
    return spy.calls


def test_phases_are_events_and_an_out_of_service_port_is_an_outage():
    assert record(PhaseChanged(1, "available", 1.0), PhaseChanged(1, "emergency", 2.0),
                  PhaseChanged(1, "available", 3.0)) == [
        ("event", ("phase", "available", 1), {}), ("outage_ended", (1,), {}),
        ("event", ("phase", "emergency", 1), {}), ("outage_started", (1,), {"reason": "emergency"}),
        ("event", ("phase", "available", 1), {}), ("outage_ended", (1,), {})]


def test_maintenance_is_an_excluded_outage():
    assert record(PhaseChanged(2, "unavailable", 1.0, maintenance=True))[1] == (
        "outage_started", (2,), {"reason": "maintenance", "excluded": True})


def test_faults_raise_and_clear():
    assert record(FaultRaised(1, "ESTOP_PRESSED", "emergency", "pressed", 1.0),
                  FaultCleared(1, "ESTOP_PRESSED", "emergency", "", 2.0)) == [
        ("fault_raised", ("ESTOP_PRESSED", "emergency", "pressed", 1), {}),
        ("fault_cleared", ("ESTOP_PRESSED", 1), {})]


def test_a_session_is_opened_and_closed_by_its_connector():
    ended = {**SESSION, "end_t": 70.0, "energy_kwh": 3.5, "peak_kw": 60.0, "stop_reason": "ev_stop",
             "fault_codes": ["EV_TIMEOUT"], "energy_source": "meter", "meter_start_wh": 5.0}
    assert record(SessionStarted(**SESSION), SessionEnded(**ended)) == [
        ("session_started", (1,), {"evcc_id": None}),
        ("session_ended", (7,), {"energy_kwh": 3.5, "peak_kw": 60.0, "stop_reason": "ev_stop",
                                 "error_codes": ["EV_TIMEOUT"], "energy_source": "meter"})]


def test_a_session_end_without_its_start_writes_nothing():
    assert record(SessionEnded(**SESSION)) == []


def test_v2g_closed_keeps_the_summary_not_the_raw_samples():
    closed = V2gClosed(1, "unplugged", {"CurrentDemandReq": {"count": 1}}, {"CurrentDemandReq": [900]})
    assert record(closed) == [("event", ("v2g_closed", "v2g_closed", 1, {
        "connector": 1, "reason": "unplugged", "answer_times": {"CurrentDemandReq": {"count": 1}}}), {})]


def test_a_console_login_is_left_to_the_console_record():
    assert record(ConsoleLogin(False, "viewer", 1, False, 1.0)) == []


def test_other_events_are_stored_with_their_json_fields():
    assert record(SlacState(2, "matched", ""), ControllerStarted((1, 2))) == [
        ("event", ("slac", "slac", 2, {"connector": 2, "state": "matched", "detail": ""}), {}),
        ("event", ("started", "started", None, {"connectors": [1, 2]}), {})]
