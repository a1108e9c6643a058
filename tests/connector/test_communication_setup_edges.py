"""The 20 s from plug-in to SessionSetupReq, the CP F restart and its attempts, each at its bound exactly and with
the words and numbers the event log gets (issue 19's surviving mutants of communication_setup.py)."""
from __future__ import annotations

import pytest

from controller.connector.ev_session import ResponseCode
from controller.formats.events import CommunicationRestart
from tests.connector.test_connector import plugged

pytestmark = pytest.mark.timeout(30)

DT = 0.125


def ticks(conn, clock, seconds):
    for _ in range(round(seconds / DT)):
        clock.advance(DT)
        conn.tick()


def restarts(events):
    return [(e.connector, e.reason, e.attempt, e.t) for e in events if isinstance(e, CommunicationRestart)]


def test_no_session_setup_within_20_s_of_plug_in_restarts_at_20_s_exactly():
    conn, board, _, clock, events = plugged()
    ticks(conn, clock, 20.0 - DT)
    assert restarts(events) == []
    ticks(conn, clock, DT)
    assert restarts(events) == [(1, "no SessionSetupReq within 20 s of plug-in", 2, 1020.0)]
    assert board.state_f is True


def test_each_attempt_gets_its_own_20_s_and_the_last_one_gives_up():
    conn, board, _, clock, events = plugged(communication_restart_f_s=0.25, communication_attempts=2)
    ticks(conn, clock, 20.0)
    ticks(conn, clock, 0.25)
    assert board.state_f is False and board.pwm == 5.0
    ticks(conn, clock, 20.0 - DT)
    assert "COMMUNICATION_FAILED" not in conn.active_faults
    ticks(conn, clock, DT)
    assert conn.active_faults["COMMUNICATION_FAILED"].detail == \
        "no SessionSetupReq within 20 s of plug-in (2 attempts)"
    assert board.pwm == 100.0
    ticks(conn, clock, 30.0)  # given up: no bound any more, nothing else happens
    assert list(conn.active_faults) == ["COMMUNICATION_FAILED"] and len(restarts(events)) == 1


def test_cp_f_is_shown_for_its_time_exactly_then_5_percent_again():
    conn, board, _, clock, events = plugged(communication_restart_f_s=0.25)
    assert conn.restart_communication("SLAC failed")
    ticks(conn, clock, DT)
    assert board.state_f is True
    ticks(conn, clock, DT)
    assert board.state_f is False and board.pwm == 5.0


def test_a_restart_while_one_runs_or_outside_plugged_is_refused():
    conn, board, _, clock, events = plugged(communication_attempts=5)
    assert conn.restart_communication("SLAC failed")
    assert not conn.restart_communication("SLAC failed again")  # CP F still shown
    assert [r[2] for r in restarts(events)] == [2]
    conn, board, _, clock, events = plugged()
    assert conn.ev_setup("abc").code == ResponseCode.OK
    assert not conn.restart_communication("SLAC failed") and restarts(events) == []


def test_attempts_count_one_by_one_in_the_events():
    conn, board, _, clock, events = plugged(communication_restart_f_s=0.25, communication_attempts=3)
    for reason in ("first", "second"):
        assert conn.restart_communication(reason)
        ticks(conn, clock, 0.25)
    assert [(r[1], r[2]) for r in restarts(events)] == [("first", 2), ("second", 3)]
    assert not conn.restart_communication("third")
    assert conn.active_faults["COMMUNICATION_FAILED"].detail == "third (3 attempts)"


def test_a_car_that_set_up_its_session_has_no_20_s_bound():
    conn, board, _, clock, events = plugged()
    conn.ev_setup("abc")
    ticks(conn, clock, 25.0)
    assert restarts(events) == [] and board.state_f is False
