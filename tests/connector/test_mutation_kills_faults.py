"""Tests written against mutants of the power-down and the fault reaction that survived the make mutate run of
2026-12-02 (issue 19): each names the mutation it kills. Asserted on the wires (`wire`: the ordered log of
board and module commands) or on what the fault leaves in the fault table and the session record."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.connector.ev_session import ResponseCode
from controller.connector.power_down import PowerDown
from controller.formats.cabinet.config import ChargingConfig
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.connector.test_connector import cp, make, to_charging
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)

EMERGENCY_OFF = [("group", "emergency_off"), ("board", "open")]


# ---- the power-down: the hold voltage goes to the modules, the faults say what was measured ---------------------
class Recorded:
    """A PowerDown whose faults are kept with their detail; `wire` logs the commands."""

    def __init__(self, **charging):
        self.wire: list[tuple] = []
        self.group, self.board, self.clock = FakeGroup(self.wire), FakeBoard(self.wire), FakeClock()
        self.group.is_on = True
        self.amps = 100.0
        self.faults: list[tuple[str, str]] = []
        self.pd = PowerDown(ChargingConfig(**charging), self.group, clock=self.clock,
                            measured_output_current=lambda now: (self.amps, now),
                            contactors_open=lambda: False, open_contactors=self.board.open_contactors,
                            raise_fault=lambda code, detail: self.faults.append((code, detail)),
                            output_safe=lambda: None)

    def run_for(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.02)):
            self.clock.advance(0.02)
            self.pd.tick(self.clock())


def test_the_current_goes_to_zero_at_the_hold_voltage_it_was_given():
    """`set_output(hold_voltage_v, 0.0)` -> `set_output(None, 0.0)`: the modules got no voltage setpoint."""
    seq = Recorded()
    seq.pd.begin("stop", 412.5)
    assert seq.wire == [("group", "set", 412.5, 0.0)]


def test_power_down_failed_says_what_current_was_left_and_after_how_long():
    """The POWER_DOWN_FAILED detail dropped (None): the event log would not say what was still flowing."""
    seq = Recorded(power_down_timeout_s=1.0)
    seq.pd.begin("error", 400.0)
    seq.amps = 37.25
    seq.run_for(1.02)
    code, detail = seq.faults[0]
    assert code == "POWER_DOWN_FAILED"
    assert "37.2 A" in detail and "1 s" in detail and "(error)" in detail


def test_a_weld_after_the_power_down_says_the_feedback_stayed_closed():
    """The CONTACTOR_WELDED detail dropped (None)."""
    seq = Recorded(contactor_feedback_timeout_s=0.1)
    seq.pd.begin("stop", 400.0)
    seq.amps = 0.0
    seq.run_for(0.2)
    assert seq.wire[-2:] == [("group", "off"), ("board", "open")]
    code, detail = seq.faults[0]
    assert code == "CONTACTOR_WELDED" and isinstance(detail, str) and "still closed" in detail


# ---- the fault reaction: exactly the emergency's commands, once per cause ---------------------------------------
def test_an_emergency_sends_the_immediate_power_off_then_the_emergency_states_and_nothing_else():
    """`_enforce(severity, powered_off=True)` -> `powered_off=False` (or dropped, or None): the modules and the
    contactors were commanded off a third time before the state's own entry."""
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    board.wire.clear()
    conn.on_fault("ESTOP_PRESSED", "button", True)
    # inside the driver's report: off, open, CP F; then the emergency state's entry does the same again
    assert board.wire == [*EMERGENCY_OFF, ("board", "state_f", True), *EMERGENCY_OFF, ("board", "state_f", True)]
    assert conn.state == "emergency"


def test_a_repeat_report_of_an_active_emergency_cuts_power_without_entering_the_state_again():
    """`_enforce(..., powered_off=False)` default -> True: a repeat report went through the state's entry again
    (CP F, the lock, the session's end) instead of the power-off alone."""
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn.on_fault("ESTOP_PRESSED", "button", True)
    group.is_on = True
    board.wire.clear()
    conn.on_fault("ESTOP_PRESSED", "button", True)
    assert board.wire == EMERGENCY_OFF and not group.is_on


def test_a_second_emergency_cause_enters_the_emergency_again():
    """A new emergency code while in the emergency state: powered off at once, then the state's entry again (CP F
    asked again), not a bare power-off."""
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn.on_fault("ESTOP_PRESSED", "button", True)
    board.wire.clear()
    conn.on_fault("ISOLATION_FAULT", "80 kohm", True)
    assert board.wire == [*EMERGENCY_OFF, ("board", "state_f", True), *EMERGENCY_OFF, ("board", "state_f", True)]


# ---- the fault reaction: what the fault table and the session record keep ---------------------------------------
def test_the_fault_names_its_connector():
    """`connector_id=self.cfg.id` -> None."""
    conn, *_ = make()
    conn.on_fault("POWER_DERATED", "hot", True)
    assert conn.active_faults["POWER_DERATED"].connector_id == conn.cfg.id == 1
    assert conn.fault_history[-1].connector_id == 1


def test_the_fault_history_keeps_the_last_200():
    """`del fault_history[:-200]` -> `[:-201]`."""
    conn, *_ = make()
    for index in range(205):
        conn.raise_fault("POWER_DERATED", str(index))
        conn.clear_fault("POWER_DERATED")
    assert len(conn.fault_history) == 200 and conn.fault_history[0].detail == "5"


def test_a_session_records_its_errors_not_its_warnings_and_stops_for_the_error():
    """`severity != "warning"` -> `==` or a misspelt severity (warnings recorded), `append(code)` ->
    `append(None)`; `severity == "error"` -> `!=` or misspelt (the stop reason taken by a warning, or never
    set), `note_stop_reason(f"error:{code}")` -> `(None)`."""
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    session = conn.session
    conn.on_fault("POWER_DERATED", "hot", True)
    assert session.fault_codes == [] and session.stop_reason == "" and conn.state == "charging"
    conn.on_fault("OUTPUT_OVERCURRENT", "212 A", True)
    assert session.fault_codes == ["OUTPUT_OVERCURRENT"]
    assert session.stop_reason == "error:OUTPUT_OVERCURRENT" and conn.state == "error_shutdown"


# ---- the board-feedback weld watch (output_guard.check_weld): its bound, from the instant the feedback stuck -----
def stuck_closed(**charging):
    conn, board, group, clock, _ = make(contactor_feedback_timeout_s=0.5, **charging)
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.state == "available" and clock() == 1000.0
    board.status = replace(board.status, dc_minus_closed=True)  # nothing commanded: closed feedback only
    conn.check_weld()  # the feedback is seen stuck at 1000.0 s
    return conn, board, clock


def test_a_contact_that_opens_within_the_bound_is_no_weld():
    """`now - since > bound` -> `now + since > bound`: a weld at once, whenever the clock reads above the bound."""
    conn, board, clock = stuck_closed()
    clock.now = 1000.4
    conn.check_weld()
    board.status = replace(board.status, dc_minus_closed=False)
    clock.now = 1001.0
    conn.check_weld()
    assert "CONTACTOR_WELDED" not in conn.active_faults and conn.state == "available"


@pytest.mark.parametrize("after,welded", [(0.5, False), (0.5078125, True)])  # both exact in binary
def test_a_weld_is_judged_after_the_bound_not_at_it(after, welded):
    """`>` -> `>=` in the weld watch."""
    conn, board, clock = stuck_closed()
    clock.now = 1000.0 + after
    conn.check_weld()
    assert ("CONTACTOR_WELDED" in conn.active_faults) == welded
    if welded:
        assert "still closed" in conn.active_faults["CONTACTOR_WELDED"].detail  # the detail dropped: None or ""
        assert conn.state == "emergency"


# ---- an error fault with a car plugged in but no session, or after its session ----------------------------------
@pytest.mark.parametrize("after_session", [False, True])
def test_an_error_fault_with_a_car_plugged_in_shuts_down_through_the_error_state(after_session):
    """`("plugged", "session_end")` with either state misspelt: the error fault left the port plugged or
    session_end, offering a new session, instead of the error shutdown."""
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    if after_session:
        assert conn.ev_setup("abc").code == ResponseCode.OK
        conn.ev_stop_session()
        assert conn.state == "session_end"
    else:
        assert conn.state == "plugged"
    conn.on_fault("OUTPUT_OVERVOLTAGE", "560 V", True)
    assert conn.state == "error_shutdown" and "OUTPUT_OVERVOLTAGE" in conn.active_faults


# ---- a fault reaction that fails on the way: the fault it was handling is named ----------------------------------
def test_a_fault_reaction_that_fails_names_the_fault_it_was_handling():
    """`power_path(f"fault {code}")` -> `power_path(None)`: CONTROLLER_INTERNAL said "None failed"."""
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    group.fail_next["emergency_off"] = RuntimeError("bus off")
    board.wire.clear()
    with pytest.raises(RuntimeError, match="bus off"):
        conn.on_fault("ESTOP_PRESSED", "button", True)
    assert board.wire[:2] == EMERGENCY_OFF and not board.contactors_cmd  # the contactors open all the same
    assert conn.active_faults["CONTROLLER_INTERNAL"].detail == "fault ESTOP_PRESSED failed: RuntimeError: bus off"
