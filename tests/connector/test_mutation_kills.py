"""Tests written against mutants of the safety core that no other test caught (make mutate, issue 19): each names
the mutation it kills. Asserted on the wires (`wire`: the ordered log of board and module commands) or on the
fault raised."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.connector.power_down import PowerDown
from controller.formats.cabinet.config import ChargingConfig
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.connector.test_connector import make, settle
from tests.connector.test_safety_checks import at_test_voltage, finished
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)


# ---- the IMD threshold: a fault below 100 kOhm, not at it (`<` -> `<=`, or the threshold moved) -----------------
@pytest.mark.parametrize("ohm,fault", [(99_999.0, True), (100_000.0, False), (101_000.0, False)])
def test_insulation_fault_below_100_kohm_not_at_it(ohm, fault):
    conn, board, group, clock = at_test_voltage()
    conn.imd.resistance_ohm = ohm
    settle(conn, board, group, clock, steps=40)
    assert ("ISOLATION_FAULT" in conn.active_faults) == fault
    if fault:
        assert conn.state == "emergency" and not group.is_on and not board.contactors_cmd
    else:
        board.status = replace(board.status, cable_voltage_v=10.0)
        settle(conn, board, group, clock, steps=3)
        assert finished(conn)


# ---- the power-down's own weld check (the board-feedback watch is a second, separate check) -----------------------
def power_down(feedback_open: list[bool], faults: list[tuple[str, str]]):
    wire: list[tuple] = []
    group, board, clock = FakeGroup(wire), FakeBoard(wire), FakeClock()
    group.is_on = True
    safe: list[bool] = []
    sequence = PowerDown(ChargingConfig(), group, clock=clock,
                         measured_output_current=lambda now: (0.0, now),
                         contactors_open=lambda: feedback_open[0], open_contactors=board.open_contactors,
                         raise_fault=lambda code, detail: faults.append((code, detail)),
                         output_safe=lambda: safe.append(True))
    return sequence, wire, clock, safe


@pytest.mark.parametrize("opens", [True, False])
def test_power_down_reports_a_weld_when_the_feedback_stays_closed(opens):
    feedback_open, faults = [False], []
    sequence, wire, clock, safe = power_down(feedback_open, faults)
    sequence.begin("stop", 400.0)
    clock.advance(0.02)
    sequence.tick(clock())
    assert wire[-2:] == [("group", "off"), ("board", "open")]
    feedback_open[0] = opens
    for _ in range(40):  # 0.8 s: longer than the 0.5 s the feedback has to follow
        clock.advance(0.02)
        sequence.tick(clock())
    if opens:
        assert safe and not faults
    else:
        assert not safe and [code for code, _ in faults][:1] == ["CONTACTOR_WELDED"]


def test_weld_seen_by_the_board_feedback_watch_alone():
    """No power-down running: contacts that report closed with nothing commanded are welded."""
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.state == "available"
    board.status = replace(board.status, dc_minus_closed=True)
    for _ in range(40):
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
    assert "CONTACTOR_WELDED" in conn.active_faults and conn.state == "emergency"
