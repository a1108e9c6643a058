"""What a connector tells the network and the technician at its state entries: an error shutdown entered after
C -> B keeps IEC 61851-1's 100 ms, the reason a session ends with (the car's own SessionStop, a remote stop), a port
out of service by a fault is no maintenance outage, the snapshot's one decimal, a failing control tick named in
CONTROLLER_INTERNAL, a remote unlock refused while the contactors are closed (issue 19's surviving mutants of
connector.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.formats.events import PhaseChanged
from tests.connector.test_connector import cp, fault_details, flowing, make, plugged, stop_reasons, to_charging

pytestmark = pytest.mark.timeout(30)


def unavailable_phases(events) -> list[PhaseChanged]:
    return [e for e in events if isinstance(e, PhaseChanged) and e.state == "unavailable"]


def test_an_error_during_the_stop_after_c_to_b_still_opens_within_100_ms():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    group.output_current_a = 100.0
    cp(conn, board, "B")  # the car's stop: 100 ms from here
    flowing(conn, board, group, clock, 0.04)
    conn.on_fault("PORT_OVERPOWER", "test", True)
    assert conn.state == "error_shutdown"
    flowing(conn, board, group, clock, 0.04)
    assert board.contactors_cmd  # the current has not fallen
    flowing(conn, board, group, clock, 0.08)
    assert not board.contactors_cmd  # the car left C: open at the bound whatever flows


def test_a_cars_session_stop_with_no_other_reason_is_the_reason():
    conn, board, group, clock, events = plugged()
    conn.ev_setup("abc")
    conn.ev_session_stop()
    assert stop_reasons(events) == ["ev_session_stop"]


def test_a_remote_stop_is_the_sessions_reason_when_the_car_then_stops():
    conn, board, group, clock, events = plugged()
    conn.ev_setup("abc")
    assert conn.request_stop("remote_stop")
    conn.ev_session_stop()
    assert stop_reasons(events) == ["remote_stop"]


def test_a_port_out_of_service_by_a_fault_is_not_a_maintenance_outage():
    conn, board, group, clock, events = make()
    conn.on_io_status(board.status)
    conn.tick()
    conn.on_fault("METER_LOST", "no answer", True)
    assert [e.maintenance for e in unavailable_phases(events)] == [False]


def test_the_snapshot_gives_the_voltage_to_a_tenth():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    board.status = replace(board.status, cable_voltage_v=380.46)
    conn.on_io_status(board.status)
    assert conn.snapshot()["voltage_v"] == 380.5


def test_a_failing_control_tick_cuts_power_and_says_where(monkeypatch):
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)

    def broken(now):
        raise RuntimeError("watch broke")

    monkeypatch.setattr(conn.energized_watch, "tick", broken)
    clock.advance(0.02)
    with pytest.raises(RuntimeError):
        conn.tick()
    assert fault_details(events, "CONTROLLER_INTERNAL") == ["control tick failed: RuntimeError: watch broke"]
    assert not board.contactors_cmd and not group.is_on


def test_a_remote_unlock_is_refused_while_the_contactors_are_closed():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    board.log.clear()
    assert conn.unlock_on_request() == "the contactors are closed"
    assert board.log == []


def test_a_port_back_from_an_emergency_but_unable_to_serve_is_not_a_maintenance_outage():
    conn, board, group, clock, events = plugged(emergency_f_hold_s=0.25)
    cp(conn, board, "E")
    cp(conn, board, "A")  # the unplug clears CP_STATE_E
    board.online = False  # but the board stopped answering: no service possible
    for _ in range(3):
        clock.advance(0.125)
        conn.tick()
    assert conn.state == "unavailable" and [e.maintenance for e in unavailable_phases(events)] == [False]
