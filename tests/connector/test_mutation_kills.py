"""Tests written against mutants of the safety core that no other test caught (make mutate, issue 19): each names
the mutation it kills. Asserted on the wires (`wire`: the ordered log of board and module commands) or on the
fault raised."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.connector.power_down import PowerDown
from controller.formats.cabinet.config import ChargingConfig
from controller.hw.imd import ImdReading
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


# ---- the power-down's timing, on the PowerDown alone (exact times from the fake clock) ------------------------------
class Sequence:
    """A PowerDown with a current reading and contactor feedback the test sets; `wire` logs the commands."""

    def __init__(self, **charging):
        self.wire: list[tuple] = []
        self.group, self.board, self.clock = FakeGroup(self.wire), FakeBoard(self.wire), FakeClock()
        self.group.is_on = True
        self.amps, self.measured_t = 100.0, None  # None: measured now
        self.feedback_open = False
        self.faults: list[str] = []
        self.safe = 0
        self.pd = PowerDown(ChargingConfig(**charging), self.group, clock=self.clock,
                            measured_output_current=lambda now: (self.amps, self.measured_t or now),
                            contactors_open=lambda: self.feedback_open, open_contactors=self.board.open_contactors,
                            raise_fault=lambda code, detail: self.faults.append(code),
                            output_safe=self._safe)

    def _safe(self):
        self.safe += 1

    def at(self, dt: float) -> None:
        """Tick at `dt` after the start (exactly: the same float sum the deadline was computed with)."""
        self.clock.now = self.t0 + dt
        self.pd.tick(self.clock())

    def begin(self, kind: str) -> None:
        self.t0 = self.clock()
        self.pd.begin(kind, 400.0)

    @property
    def opened(self) -> bool:
        return ("board", "open") in self.wire


def test_a_reading_taken_at_the_stop_command_counts():
    seq = Sequence()
    seq.begin("stop")
    seq.amps, seq.measured_t = 0.0, seq.t0  # measured at the very instant of the stop command
    seq.at(0.02)
    assert seq.wire[-2:] == [("group", "off"), ("board", "open")]


@pytest.mark.parametrize("dt,opens", [(0.49, False), (0.5, True)])
def test_error_shutdown_opens_once_the_notice_wait_is_over(dt, opens):
    seq = Sequence(error_notice_wait_s=0.5)
    seq.begin("error")
    seq.amps = 0.0
    seq.at(dt)
    assert seq.opened == opens and not seq.faults


@pytest.mark.parametrize("dt,failed", [(1.49, False), (1.5, True)])
def test_power_down_failed_at_its_timeout_not_after(dt, failed):
    seq = Sequence(power_down_timeout_s=1.5)
    seq.begin("stop")
    seq.at(dt)
    assert (seq.faults == ["POWER_DOWN_FAILED"]) == failed and not seq.opened


@pytest.mark.parametrize("dt,opens", [(0.05, False), (0.06, True)])
def test_c_to_b_opens_at_its_100_ms_bound_with_current_still_flowing(dt, opens):
    seq = Sequence(stop_timeout_s=0.06)
    seq.begin("cp_b")
    seq.at(dt)
    assert seq.opened == opens and not seq.faults
    if opens:
        assert seq.wire[-2:] == [("group", "off"), ("board", "open")]


@pytest.mark.parametrize("kind", ["stop", "error"])
def test_c_to_b_during_a_stop_shortens_the_bound_to_100_ms(kind):
    seq = Sequence(stop_timeout_s=0.06, power_down_timeout_s=1.5)
    seq.begin(kind)
    seq.at(0.2)
    assert not seq.opened
    seq.pd.cp_left_c()  # C->B at 0.2 s: open by 0.26 s whatever the current
    seq.at(0.25)
    assert not seq.opened
    seq.at(0.26)
    assert seq.opened and not seq.faults


def test_c_to_b_after_the_contactors_opened_changes_nothing():
    seq = Sequence(stop_timeout_s=0.06)
    seq.begin("stop")
    seq.amps = 0.0
    seq.at(0.02)
    assert seq.pd.step == "open_contactors" and seq.pd.kind == "stop"
    seq.pd.cp_left_c()
    assert seq.pd.kind == "stop"


def test_c_to_b_bound_never_later_than_the_one_already_running():
    seq = Sequence(stop_timeout_s=0.06)
    seq.begin("cp_b")
    seq.at(0.04)
    seq.pd.cp_left_c()  # again: the bound stays 0.06 s from the first C->B
    seq.at(0.06)
    assert seq.opened


@pytest.mark.parametrize("opens_after,welded", [(0.2, False), (0.52, False), (0.6, True)])  # closed at 0.5 s: not yet late
def test_contactor_feedback_has_its_time_to_follow(opens_after, welded):
    seq = Sequence(contactor_feedback_timeout_s=0.5)
    seq.begin("stop")
    seq.amps = 0.0
    seq.at(0.0)
    assert seq.opened
    for step in range(1, 27):  # 0.02 s steps up to 0.52 s after the open command
        t = 0.02 * step
        seq.feedback_open = t >= opens_after - 1e-9
        seq.at(t)
        if seq.faults or seq.safe:
            break
    assert (seq.faults == ["CONTACTOR_WELDED"]) == welded
    assert seq.safe == (0 if welded else 1)


def test_the_output_is_reported_safe_once():
    seq = Sequence()
    seq.begin("stop")
    seq.amps = 0.0
    seq.at(0.02)
    seq.feedback_open = True
    for step in range(2, 20):
        seq.at(0.02 * step)
    assert seq.safe == 1 and seq.pd.step == "done"


# ---- the cable check's test voltage (IEC 61851-23:2023 CC.4.1.2), on the CableCheck alone --------------------------
@pytest.mark.parametrize("ev_max,evse_max,test_v", [
    (400.0, 1000.0, 450.0), (480.0, 1000.0, 500.0), (500.0, 1000.0, 500.0), (400.0, 420.0, 420.0),
    (500.5, 1000.0, 550.55), (800.0, 1000.0, 880.0), (950.0, 1000.0, 1000.0), (800.0, 850.0, 850.0),
])
def test_cable_check_test_voltage(ev_max, evse_max, test_v):
    from types import SimpleNamespace

    from controller.connector.cable_check import CableCheck
    from controller.connector.ev_session import EvChargeParameters
    group = FakeGroup()
    group.capabilities = replace(group.capabilities, max_voltage_v=evse_max)
    host = SimpleNamespace(cfg=SimpleNamespace(max_voltage_v=1000.0), charging=ChargingConfig(), group=group,
                           clock=FakeClock(), imd=object(), raise_fault=lambda *a: None,
                           ev_parameters=EvChargeParameters(max_voltage_v=ev_max, max_current_a=100.0))
    check = CableCheck(host)
    check.start()
    assert check.test_voltage_v == pytest.approx(test_v, abs=1e-9)


# ---- the cable check's steps at their boundaries (test voltage 470 V: 95 % = 446.5 V, 90 % = 423 V) -------------------
def test_contactors_that_never_close_in_the_cable_check_are_contactor_not_closed():
    from tests.connector.test_safety_checks import at_cable_check
    conn, board, group, clock = at_cable_check()
    board.contactors_close = False
    settle(conn, board, group, clock, steps=40)
    assert ("board", "close") in board.wire and "CONTACTOR_NOT_CLOSED" in conn.active_faults
    assert not group.is_on and not board.contactors_cmd  # the error shutdown opened again what never closed


def test_contactors_closing_late_within_their_bound_are_no_fault():
    from tests.connector.test_safety_checks import at_cable_check
    conn, board, group, clock = at_cable_check()
    board.contactors_close = False
    settle(conn, board, group, clock, steps=3)  # self-test done, close commanded, feedback still open
    assert board.contactors_cmd and not group.is_on
    for _ in range(24):  # 0.48 s without feedback: within the 0.5 s bound
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
    board.contactors_close = True
    settle(conn, board, group, clock, steps=3)
    assert not conn.active_faults and group.is_on and group.setpoint == (470.0, 2.0)


@pytest.mark.parametrize("volts,holds", [(446.4, False), (446.5, True)])
def test_the_hold_starts_at_95_percent_of_the_test_voltage(volts, holds):
    conn, board, group, clock = at_test_voltage()
    board.status = replace(board.status, cable_voltage_v=volts)
    settle(conn, board, group, clock, steps=2)
    assert conn.imd.cable_check_mode == holds  # the IMD is told the test voltage is on once the hold starts


@pytest.mark.parametrize("volts,fails", [(423.0, False), (422.9, True)])
def test_the_test_voltage_may_sag_to_90_percent_in_the_hold(volts, fails):
    conn, board, group, clock = at_test_voltage()
    conn.imd.frozen = ImdReading(resistance_ohm=5e6, system_voltage_v=470.0, resistance_valid=True, prewarning=False,
                                 alarm=False, device_error=False, test_done=True, t=0.0)  # never judges
    settle(conn, board, group, clock, steps=2)
    assert conn.imd.cable_check_mode
    board.status = replace(board.status, cable_voltage_v=volts)
    settle(conn, board, group, clock, steps=2)
    assert ("CABLE_CHECK_FAILED" in conn.active_faults) == fails


@pytest.mark.parametrize("system_v,judged", [(0.0, False), (422.9, False), (423.0, True)])
def test_a_reading_counts_only_where_the_imd_saw_90_percent_of_the_test_voltage(system_v, judged):
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=2)
    conn.imd.frozen = ImdReading(resistance_ohm=5e6, system_voltage_v=system_v, resistance_valid=True,
                                 prewarning=False, alarm=False, device_error=False, test_done=True, t=clock() + 0.6)
    clock.advance(0.7)
    settle(conn, board, group, clock, steps=2)
    assert (not group.is_on) == judged  # judged good: the modules switch off for the discharge
    if judged:
        assert not conn.imd.cable_check_mode


def test_the_self_test_waits_for_below_60_v_on_the_cable():
    from tests.connector.test_safety_checks import at_cable_check
    conn, board, group, clock = at_cable_check()
    board.status = replace(board.status, cable_voltage_v=60.0)  # left over on the cable: not yet safe
    settle(conn, board, group, clock, steps=3)
    assert conn.imd.self_tests == 0 and not board.contactors_cmd
    board.status = replace(board.status, cable_voltage_v=59.9)
    settle(conn, board, group, clock, steps=3)
    assert conn.imd.self_tests == 1 and board.contactors_cmd


def test_a_lock_that_locks_within_its_bound_is_no_fault():
    from tests.connector.test_safety_checks import at_cable_check
    conn, board, group, clock = at_cable_check(lock_timeout_s=2.0)
    board.lock_works = False
    for _ in range(90):  # 1.8 s not locked
        settle(conn, board, group, clock, steps=1)
    assert not conn.active_faults and not board.contactors_cmd
    board.lock_works = True
    settle(conn, board, group, clock, steps=5)
    assert not conn.active_faults and board.contactors_cmd


# ---- the IMD self-test in the cable check ------------------------------------------------------------------------------
def test_a_failed_self_test_is_imd_selftest_failed_and_nothing_closes():
    from tests.connector.test_safety_checks import at_cable_check
    conn, board, group, clock = at_cable_check()
    conn.imd.self_test_passes = False
    settle(conn, board, group, clock, steps=5)
    assert "IMD_SELFTEST_FAILED" in conn.active_faults and "CONTROLLER_INTERNAL" not in conn.active_faults
    assert ("board", "close") not in board.wire and ("group", "on") not in board.wire


@pytest.mark.parametrize("wait_s,failed", [(11.9, False), (12.1, True)])
def test_a_self_test_without_result_fails_after_its_timeout_plus_margin(wait_s, failed):
    from tests.connector.test_safety_checks import at_cable_check
    conn, board, group, clock = at_cable_check(imd_self_test_timeout_s=10.0, cable_check_timeout_s=60.0)
    conn.imd.self_test_passes = None  # running, never ends
    settle(conn, board, group, clock, steps=1)
    assert conn.imd.self_tests == 1
    clock.advance(wait_s)  # from the start of the self-test (plus the settle steps' 0.02 s each)
    settle(conn, board, group, clock, steps=2)  # the first tick after a jump is skipped, as after a stall
    assert ("IMD_SELFTEST_FAILED" in conn.active_faults) == failed
    assert "CONTROLLER_INTERNAL" not in conn.active_faults
    assert ("board", "close") not in board.wire


# ---- the output guard on its own: each of its refusals holds without the safety supervisor behind it ----------------
def guard_host(state="cable_check", cp_state="C", lock="LOCKED", faults=()):
    from types import SimpleNamespace

    from controller.connector.output_guard import OutputGuard
    from controller.faults import Fault
    wire: list[tuple] = []
    host = SimpleNamespace(cfg=SimpleNamespace(id=1), charging=ChargingConfig(), io=FakeBoard(wire),
                           group=FakeGroup(wire), clock=FakeClock(), state=state, supervisor=None,
                           _contactors_commanded=False, cp_state=cp_state, lock_state=lambda: lock,
                           raise_fault=lambda code, detail="": None)
    blocking = [Fault(code, 1, "", 0.0) for code in faults]
    host.blocking_faults = lambda: blocking
    return OutputGuard(host), host, wire


@pytest.mark.parametrize("fault", ["CONNECTOR_OVERTEMPERATURE", "ESTOP_PRESSED"])
def test_the_guard_alone_refuses_to_energize_with_a_blocking_fault(fault):
    guard, host, wire = guard_host(faults=[fault])
    assert not guard.may_energize("test")
    guard.switch_on()
    assert wire == []
    assert guard_host()[0].may_energize("test")  # the same without the fault


@pytest.mark.parametrize("fault,allowed", [(None, True), ("CONNECTOR_OVERTEMPERATURE", True), ("ESTOP_PRESSED", False)])
def test_the_technicians_contactor_test_is_refused_only_under_an_emergency_fault(fault, allowed):
    guard, host, wire = guard_host(state="unavailable", cp_state="A", lock="UNLOCKED",
                                   faults=[fault] if fault else [])
    assert guard.close_contactors_for_test() == allowed
    assert (("board", "close") in wire) == allowed
    assert host._contactors_commanded == allowed  # commanded: closed feedback is no weld
    if allowed:
        assert host.io.max_voltage_v == 60.0  # the board trips above the safe voltage: none is expected


def test_the_fail_safe_leaves_nothing_commanded_closed():
    guard, host, wire = guard_host()
    host._contactors_commanded = True
    guard.fail_safe_off()
    assert wire == [("group", "emergency_off"), ("board", "open")] and host._contactors_commanded is False


# ---- the session's limits: the car's maximum current counts -------------------------------------------------------------
def test_the_cars_maximum_current_limits_the_session():
    from types import SimpleNamespace

    from controller.connector.ev_session import EvChargeParameters
    from controller.connector.limits import Limits
    cfg = SimpleNamespace(max_current_a=200.0, max_voltage_v=500.0, max_power_kw=150.0)
    ev = EvChargeParameters(max_voltage_v=420.0, max_current_a=150.0)
    limits = Limits(cfg, FakeGroup(), derated_power_w=lambda: 1e9, ev_parameters=lambda: ev)
    assert limits.current_a(400.0) == (150.0, "ev")
    assert limits.voltage_v() == 420.0


# ---- precharge: the board's limit back to the session's, the car's maximum itself allowed, its current kept ----------
def after_cable_check():
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock, steps=3)
    assert finished(conn)
    board.wire.clear()
    return conn, board, group, clock


def test_precharge_puts_the_boards_limit_back_to_the_session_maximum():
    conn, board, group, clock = after_cable_check()
    assert board.max_voltage_v > 470.0  # the cable check's test voltage plus margin
    conn.ev_precharge_request(380.0, 2.0)
    assert board.max_voltage_v == conn.board_max_voltage_v() < 470.0  # the car's 420 V plus margin


@pytest.mark.parametrize("target_v,current_a,setpoint", [(420.0, 2.0, (420.0, 2.0)), (380.0, 0.0, (380.0, 0.0))])
def test_precharge_at_the_cars_maximum_and_at_zero_current(target_v, current_a, setpoint):
    from controller.connector.ev_session import ResponseCode
    conn, board, group, clock = after_cable_check()
    assert conn.ev_precharge_request(target_v, current_a).code == ResponseCode.OK
    assert group.setpoint == setpoint


# ---- the fault reaction: CP F on an emergency, a fault reported again enforced again, the events it emits ---------------
def test_an_emergency_asks_for_cp_f_and_a_repeat_report_cuts_power_again():
    from controller.formats.events import FaultCleared, FaultRaised
    conn, board, group, clock, events = make()
    from tests.connector.test_connector import to_charging
    to_charging(conn, board, group, clock)
    board.wire.clear()
    conn.on_fault("ESTOP_PRESSED", "button", True)
    assert board.wire[:3] == [("group", "emergency_off"), ("board", "open"), ("board", "state_f", True)]
    raised = [e for e in events if isinstance(e, FaultRaised)]
    assert [(e.connector, e.code, e.severity, e.detail, e.t) for e in raised] == \
        [(1, "ESTOP_PRESSED", "emergency", "button", clock())]
    group.is_on = True  # something switched the modules on again behind the connector's back
    board.wire.clear()
    conn.on_fault("ESTOP_PRESSED", "button", True)  # still active, reported again
    assert board.wire[:2] == [("group", "emergency_off"), ("board", "open")] and not group.is_on
    conn.on_fault("ESTOP_PRESSED", "", False)
    assert conn.clear_latched() == ["ESTOP_PRESSED"]
    cleared = [e for e in events if isinstance(e, FaultCleared)]
    assert [(e.connector, e.code, e.severity, e.detail, e.t) for e in cleared] == \
        [(1, "ESTOP_PRESSED", "emergency", "", clock())]
