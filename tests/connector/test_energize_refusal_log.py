"""A refused energize names the step that asked, in the log line a technician reads: the cable check's contactors
and test voltage, and the precharge (issue 19: the step names reached only the log, so mutants of them
survived as "log only" though they are what the line is for)."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from tests.connector.test_connector import settle
from tests.connector.test_safety_checks import at_cable_check

pytestmark = pytest.mark.timeout(30)

GUARD = "controller.connector.output_guard"
OFFLINE = "not energized: safety supervisor refuses: I/O board offline"


def refusals(caplog) -> list[str]:
    return sorted({m for m in caplog.messages if "not energized" in m})


def test_the_cable_checks_contactors_name_themselves_when_refused(caplog):
    conn, board, group, clock = at_cable_check()
    board.online = False
    with caplog.at_level(logging.INFO, logger=GUARD):
        settle(conn, board, group, clock, steps=3, dt=0.125)
    assert conn.cable_check_step() == "energize"
    assert refusals(caplog) == [f"connector 1: cable check contactors {OFFLINE}"]


def test_the_cable_checks_test_voltage_names_itself_when_refused(caplog):
    conn, board, group, clock = at_cable_check()
    for _ in range(5):
        if conn.cable_check_step() == "close_contactors":
            break
        settle(conn, board, group, clock, steps=1, dt=0.125)
    assert conn.cable_check_step() == "close_contactors" and board.contactors_cmd
    board.online = False
    with caplog.at_level(logging.INFO, logger=GUARD):
        settle(conn, board, group, clock, steps=1, dt=0.125)
    assert refusals(caplog) == [f"connector 1: cable check test voltage {OFFLINE}"]
    assert not group.is_on


def test_the_precharge_names_itself_when_refused(caplog):
    conn, board, group, clock = at_cable_check()
    settle(conn, board, group, clock)
    board.status = replace(board.status, cable_voltage_v=470.0)
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock)
    assert conn.ev_cable_check_request().processing.value == "Finished"
    board.online = False
    with caplog.at_level(logging.INFO, logger=GUARD):
        conn.ev_precharge_request(380.0, 10.0)
    assert refusals(caplog) == [f"connector 1: precharge {OFFLINE}"]
    assert not group.is_on
