"""Issue 14: one rule for reporting a fault. The listener (the connector's reaction, the emergency power-off
inside it) comes first; an exception in a listener never stops the power-off nor the reporter's own work, and a
report the listener did not take is made again on the next sample."""
from __future__ import annotations

import logging

import pytest

from controller.connector.ev_session import CurrentDemand
from controller.faults import report_fault
from controller.hw.device_faults import DeviceFaults
from tests.connector.test_connector import cp, make, to_charging
from tests.hw.test_io_board import STATUS, FakeClock, Rig, status_frame

pytestmark = pytest.mark.timeout(30)


class _Boom(RuntimeError):
    pass


def _failing_on(kind: str, events: list):
    def sink(event):
        events.append((event.KIND, event.json_fields()))
        if event.KIND == kind:
            raise _Boom(f"{kind} listener bug")
    return sink


def test_a_fault_event_listener_that_raises_does_not_stop_the_emergency():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    seen: list = []
    conn._emit = conn._guarded_sink(_failing_on("fault", seen))  # what the constructor does with on_event
    conn.on_fault("ESTOP_PRESSED", "emergency stop pressed", True)
    assert conn.state == "emergency"
    assert not group.is_on and ("board", "open") in board.wire and board.state_f
    kinds = [k for k, _ in seen]
    assert kinds[0] == "fault" and "phase" in kinds  # the events after the failed one still go out


def test_a_fault_event_listener_that_raises_does_not_stop_the_error_shutdown():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn._emit = conn._guarded_sink(_failing_on("fault", []))
    conn.raise_fault("EV_TIMEOUT", "V2G connection ended")  # the SECC's call: no power path around it
    assert conn.state == "error_shutdown"


def test_the_constructor_guards_the_event_sink():
    events: list = []
    conn, board, group, clock, _ = make()
    conn2 = type(conn)(conn.cfg, conn.charging, board, group, clock=clock, wall_clock=clock,
                       on_event=_failing_on("fault", events))
    conn2.imd = conn.imd
    to_charging(conn2, board, group, clock)
    cp(conn2, board, "E")
    assert conn2.state == "emergency" and not group.is_on


def test_report_fault_calls_the_listener_before_the_log_line_and_never_raises(caplog):
    order = []

    def listener(code, detail, active):
        order.append(("listener", len(caplog.records)))
        raise _Boom("bug")

    with caplog.at_level(logging.INFO):
        assert report_fault(listener, "meter 1", "METER_LOST", "no answer", True) is False
    assert order == [("listener", 0)]
    assert any("METER_LOST raised" in r.getMessage() for r in caplog.records)
    assert report_fault(lambda *a: None, "meter 1", "METER_LOST", "", False) is True


def test_a_device_fault_not_taken_is_reported_again_on_the_next_poll():
    calls = []

    def failing_once(code, detail, active):
        calls.append((code, active))
        if len(calls) == 1:
            raise _Boom("connector bug")

    faults = DeviceFaults(failing_once, "IMD 1")
    faults.set("IMD_LOST", True, "no answer")
    assert faults.active == {}
    faults.set("IMD_LOST", True, "no answer")
    faults.set("IMD_LOST", True, "no answer")
    assert calls == [("IMD_LOST", True), ("IMD_LOST", True)] and "IMD_LOST" in faults.active


def test_a_board_link_check_whose_reaction_raised_goes_on_and_reports_again():
    rig = Rig(clock=FakeClock())
    calls = []

    def failing_once(code, detail, active):
        calls.append((code, active))
        if len(calls) == 1:
            raise _Boom("connector bug")

    rig.board._on_fault = failing_once
    rig.board.check_link()
    for _ in range(8):  # 0.4 s of silence, one link check every 50 ms as run() does
        rig.board.clock.now += 0.05
        rig.board.check_link()  # never raises: run() keeps sending the commands and checking the link
    assert calls == [("IO_BOARD_LOST", True), ("IO_BOARD_LOST", True)]
    rig.deliver(STATUS, status_frame())
    assert calls[-1] == ("IO_BOARD_LOST", False)
    rig.close()


def test_a_request_that_raised_cuts_the_power_and_names_the_call():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)

    def broken(demand):
        raise _Boom("setpoint bug")

    conn.charge_control.apply_current_demand = broken
    with pytest.raises(_Boom):
        conn.ev_current_demand(CurrentDemand(target_voltage_v=400.0, target_current_a=10.0))
    assert not group.is_on and ("board", "open") in board.wire
    assert conn.active_faults["CONTROLLER_INTERNAL"].detail.startswith("ev_current_demand request failed: _Boom")
