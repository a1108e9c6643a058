"""The control pilot's changes acted on by the connector: C -> B during a stop or an error shutdown opens within
IEC 61851-1's 100 ms even with current flowing (also after D), the reason C -> B gives a session, CP F clearing
when the car shows B or C again, and the words of each CP fault
(issue 19's surviving mutants of control_pilot.py)."""
from __future__ import annotations

import pytest

from tests.connector.test_connector import cp, fault_details, flowing, make, plugged, to_charging

pytestmark = pytest.mark.timeout(30)


def charging_with_current():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    group.output_current_a = 100.0
    return conn, board, group, clock, events


@pytest.mark.parametrize("how", ["stop", "error", "ventilation"])
def test_c_to_b_during_a_stop_or_an_error_shutdown_opens_within_100_ms_with_current_flowing(how):
    conn, board, group, clock, events = charging_with_current()
    if how == "stop":
        conn.ev_power_delivery(False)
        assert conn.state == "stopping"
    elif how == "error":
        conn.on_fault("PORT_OVERPOWER", "test", True)
        assert conn.state == "error_shutdown"
    else:
        cp(conn, board, "D")
        assert conn.state == "error_shutdown"
    flowing(conn, board, group, clock, 0.2)
    assert board.contactors_cmd  # the current has not fallen: the contactors wait for it
    cp(conn, board, "B")
    flowing(conn, board, group, clock, 0.1)
    assert not board.contactors_cmd


def test_c_to_b_while_charging_is_the_cars_stop():
    conn, board, group, clock, events = charging_with_current()
    cp(conn, board, "B")
    assert conn.state == "stopping" and conn.session.stop_reason == "ev_left_state_c"


def test_cp_f_from_the_car_is_cleared_when_it_shows_b_again():
    conn, board, group, clock, events = plugged()
    cp(conn, board, "F")
    assert "CP_STATE_F" in conn.active_faults
    cp(conn, board, "B")
    assert "CP_STATE_F" not in conn.active_faults


@pytest.mark.parametrize("state, kw, code, words", [
    ("D", {}, "CP_STATE_D", "car asked for ventilation"),
    ("E", {}, "CP_STATE_E", "CP at 0 V"),
    ("F", {}, "CP_STATE_F", "CP at -12 V without request"),
    ("INVALID", {"cp_high_v": 7.5}, "CP_INVALID", "CP high 7.5 V"),
])
def test_each_cp_fault_says_what_the_pilot_showed(state, kw, code, words):
    conn, board, group, clock, events = plugged()
    cp(conn, board, state, **kw)
    assert fault_details(events, code) == [words]
