"""The connector lock at its bound and what it answers a remote unlock; the output guard's weld words and the log
line a technician reads when energizing is refused (issue 19's surviving mutants of connector_lock.py and
output_guard.py)."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.connector_lock import ConnectorLock
from controller.connector.output_guard import OutputGuard
from controller.faults import Fault
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(10)


def locked_board(volts: float) -> FakeBoard:
    board = FakeBoard()
    board.status = replace(board.status, lock_state="LOCKED", cable_voltage_v=volts)
    return board


def test_a_new_lock_never_unlocks_by_itself():
    board = locked_board(0.0)
    lock = ConnectorLock(board, ChargingConfig())
    lock.unlock_when_safe()  # every status calls it: nothing was asked
    assert board.log == []


def test_a_remote_unlock_at_the_safe_voltage_exactly_is_refused_with_the_voltages():
    board = locked_board(60.0)
    lock = ConnectorLock(board, ChargingConfig(safe_voltage_v=60.0))
    assert lock.unlock_on_request() == "the cable is at 60 V; it unlocks only below 60 V"
    assert board.log == []


def test_a_remote_unlock_without_a_board_status_says_the_voltage_is_unknown():
    board = FakeBoard()
    board.status = None
    assert ConnectorLock(board, ChargingConfig()).unlock_on_request() == (
        "no status from the I/O board: the cable voltage is unknown")


def test_a_remote_unlock_is_made_once_and_not_repeated_by_later_statuses():
    board = locked_board(12.0)
    lock = ConnectorLock(board, ChargingConfig())
    assert lock.unlock_on_request() is None
    for _ in range(3):
        lock.unlock_when_safe()
    assert board.log == [("lock", False)]


class Guarded:
    """What the guard reads of its connector: a car in C, a locked lock, and the faults the test sets."""

    def __init__(self):
        self.cfg = ConnectorConfig(id=3, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A")
        self.charging = ChargingConfig(contactor_feedback_timeout_s=0.25)
        self.io, self.group, self.clock = FakeBoard(), FakeGroup(), FakeClock()
        self.state, self.cp_state, self.supervisor = "precharge", "C", None
        self._contactors_commanded = False
        self.faults: list[Fault] = []
        self.raised: list[tuple[str, str]] = []
        self.guard = OutputGuard(self)

    def lock_state(self) -> str:
        return "LOCKED"

    def blocking_faults(self) -> list[Fault]:
        return self.faults

    def raise_fault(self, code: str, detail: str = "") -> None:
        self.raised.append((code, detail))


def test_a_refused_switch_on_is_logged_with_what_and_why(caplog):
    host = Guarded()
    host.faults = [Fault("PORT_OVERPOWER", 3, "", 0.0), Fault("IMD_INVALID", 3, "", 0.0)]
    with caplog.at_level(logging.INFO, logger="controller.connector.output_guard"):
        host.guard.switch_on()
    assert not host.group.is_on
    assert caplog.messages == ["connector 3: modules on not energized: fault PORT_OVERPOWER,IMD_INVALID"]


def test_a_refusal_by_the_safety_supervisor_is_logged_with_its_reason(caplog):
    host = Guarded()

    class Refusing:
        def may_energize(self):
            return False

        def refusal(self):
            return "I/O board offline"

        def report_refusal(self):
            pass

    host.supervisor = Refusing()
    with caplog.at_level(logging.INFO, logger="controller.connector.output_guard"):
        assert not host.guard.may_energize("contactors")
    assert caplog.messages == ["connector 3: contactors not energized: safety supervisor refuses: I/O board offline"]


def test_a_weld_says_the_feedback_stayed_closed_after_the_open_command():
    host = Guarded()
    host.io.status = replace(host.io.status, dc_plus_closed=True)
    for _ in range(4):
        host.guard.check_weld()
        host.clock.advance(0.125)
    assert host.raised == [("CONTACTOR_WELDED", "contactor feedback still closed after the open command")]
