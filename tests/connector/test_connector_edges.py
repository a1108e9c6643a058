"""The connector's own decisions, each pinned where it shows outside: the CP and contactor commands on the wire,
the session's end reason, the events the console and OCPP read, the technician's snapshot (issue 19's
surviving mutants of connector.py)."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from controller.connector.connector import Connector
from controller.connector.ev_session import CurrentDemand, EvChargeParameters, IsolationLevel, ResponseCode
from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.formats.events import CommunicationRestart, FaultRaised, PhaseChanged, SessionEnded
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.connector.test_connector import cp, flowing, idle, make, plugged, settle, to_charging
from tests.connector.test_safety_checks import at_test_voltage, finished
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)


def charging(**charging_cfg):
    conn, board, group, clock, events = make(**charging_cfg)
    to_charging(conn, board, group, clock)
    return conn, board, group, clock, events


def ended(events) -> list[str]:
    return [e.stop_reason for e in events if isinstance(e, SessionEnded)]


def emergency_with(conn, board, clock, code="ESTOP_PRESSED"):
    conn.on_fault(code, "test", True)
    assert conn.state == "emergency" and board.state_f


# ---- the board's first status: which state a car already plugged in finds ------------------------------------
@pytest.mark.parametrize("cp_state", ["B", "C"])
def test_a_board_that_comes_up_with_a_car_plugged_in_offers_5_percent(cp_state):
    conn, board, group, clock, _ = make()
    board.status = replace(board.status, cp_state=cp_state)
    conn.on_io_status(board.status)  # the first status, in the receive path: no control tick needed
    assert conn.state == "plugged" and board.pwm == 5.0


# ---- unavailable: the CP shows why ---------------------------------------------------------------------
def test_disabled_with_no_fault_shows_100_percent_and_a_blocking_fault_shows_0():
    conn, board, group, clock, events = idle()
    board.log.clear()
    conn.set_enabled(False)
    assert conn.state == "unavailable" and ("pwm", 100.0) in board.log and ("pwm", 0.0) not in board.log
    conn.set_enabled(True)
    assert conn.state == "available"
    board.log.clear()
    conn.on_fault("OUTPUT_OVERVOLTAGE", "test", True)  # a latched error with no car: out of service
    assert conn.state == "unavailable" and ("pwm", 0.0) in board.log and ("pwm", 100.0) not in board.log


def test_maintenance_is_flagged_only_when_disabled_for_maintenance():
    conn, board, group, clock, events = idle()
    conn.set_enabled(False)
    conn.set_enabled(True)
    clock.advance(12.5)
    conn.set_enabled(False, maintenance=True)
    phases = [(e.state, e.maintenance, e.t) for e in events if isinstance(e, PhaseChanged)]
    assert phases[-3:] == [("unavailable", False, 1000.0), ("available", False, 1000.0),
                           ("unavailable", True, 1012.5)]
    assert conn.maintenance and not conn.enabled
    conn.set_enabled(True, maintenance=True)  # enabling ends any maintenance
    assert conn.state == "available" and not conn.maintenance and conn.enabled
    conn.tick()
    assert conn.state == "available"


def test_out_for_maintenance_with_a_latched_fault_is_an_outage_that_counts():
    conn, board, group, clock, events = idle()
    conn.on_fault("OUTPUT_OVERVOLTAGE", "test", True)
    assert conn.state == "unavailable"
    conn.set_enabled(False, maintenance=True)
    conn.on_fault("ESTOP_PRESSED", "test", True)  # a state change while out for maintenance, the fault latched
    assert [e.maintenance for e in events if isinstance(e, PhaseChanged)][-1] is False


# ---- the end of a session: the reason the store and OCPP get ------------------------------------------------
def stopped_at_welding_detection(**charging_cfg):
    conn, board, group, clock, events = charging(**charging_cfg)
    assert conn.ev_power_delivery(False).code == ResponseCode.OK
    assert conn.state == "stopping"
    return conn, board, group, clock, events


def power_down_done(conn, board, group, clock):
    group.output_current_a = 0.0
    group.answer(clock(), group.output_voltage_v, 0.0)
    settle(conn, board, group, clock, steps=10)


def test_a_session_stop_during_the_power_down_ends_the_session_once_the_output_is_safe():
    conn, board, group, clock, events = stopped_at_welding_detection()
    assert conn.ev_stop_session().code == ResponseCode.OK
    assert conn.state == "stopping"  # the answer does not wait for the contactors
    power_down_done(conn, board, group, clock)
    assert conn.state == "session_end" and not conn.finish_after_stop
    assert ended(events) == ["ev_stop"]


def test_without_a_session_stop_the_power_down_ends_in_welding_detection():
    conn, board, group, clock, events = stopped_at_welding_detection()
    power_down_done(conn, board, group, clock)
    assert conn.state == "welding_detection" and ended(events) == []
    assert conn.ev_stop_session().code == ResponseCode.OK
    assert conn.state == "session_end" and ended(events) == ["ev_stop"]


def test_a_technicians_stop_is_booked_as_user_stop():
    conn, board, group, clock, events = charging()
    assert conn.request_stop()
    conn.ev_power_delivery(False)
    power_down_done(conn, board, group, clock)
    conn.ev_stop_session()
    assert ended(events) == ["user_stop"]


def test_a_stop_request_outside_a_session_is_refused():
    conn, board, group, clock, events = idle()
    assert conn.request_stop() is False and conn.stop_requested_t is None


def test_an_emergency_books_the_session_with_its_code():
    conn, board, group, clock, events = charging()
    conn.on_fault("ESTOP_PRESSED", "test", True)
    assert ended(events) == ["emergency:ESTOP_PRESSED"]


def test_an_emergency_during_an_error_shutdown_keeps_the_first_reason():
    conn, board, group, clock, events = charging()
    cp(conn, board, "D")
    assert conn.state == "error_shutdown"
    conn.on_fault("ESTOP_PRESSED", "test", True)
    assert ended(events) == ["error:CP_STATE_D"]


# ---- stopping: "stop" waits for a closing matrix contact; CP D is an error that waits for the current -------------
def test_a_stop_while_a_matrix_contact_closes_holds_the_current_until_it_landed():
    conn, board, group, clock, events = charging()
    group.contact_closing = True
    group.log.clear()
    conn.ev_power_delivery(False)
    assert not [c for c in group.log if c[0] == "set"]  # nothing changes under a travelling contact
    group.contact_closing = False
    settle(conn, board, group, clock, steps=1)
    assert [c for c in group.log if c[0] == "set"][0][2] == 0.0


def test_cp_d_while_charging_waits_for_the_current_not_the_100_ms_cp_b_bound():
    conn, board, group, clock, events = charging()
    group.output_current_a = 120.0
    group.answer(clock(), 380.0, 120.0)
    board.log.clear()
    cp(conn, board, "D")
    assert conn.state == "error_shutdown"
    for _ in range(10):  # 200 ms, current still flowing: the contactors stay closed
        clock.advance(0.02)
        group.answer(clock(), 380.0, 120.0)
        conn.tick()
    assert ("open",) not in board.log


# ---- the emergency's CP F and the way back ------------------------------------------------------------------
def ticks(conn, clock, seconds, dt=0.025):
    """The control loop's ticks over `seconds` (never late: a late tick is skipped)."""
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        conn.tick()


def test_cp_f_is_released_at_its_hold_exactly_unless_the_board_is_lost():
    conn, board, group, clock, _ = idle(emergency_f_hold_s=0.25)
    cp(conn, board, "B")
    emergency_with(conn, board, clock)
    ticks(conn, clock, 0.125, dt=0.125)
    assert board.state_f is True and board.pwm == 5.0  # not before its hold
    ticks(conn, clock, 0.125, dt=0.125)
    assert board.state_f is False and board.pwm == 100.0 and conn.state == "emergency"  # the e-stop is latched

    conn, board, group, clock, _ = idle(emergency_f_hold_s=0.25)
    emergency_with(conn, board, clock, "IO_BOARD_LOST")
    ticks(conn, clock, 1.0)
    assert board.state_f and conn.state == "emergency"


def test_recovery_waits_for_the_f_hold_exactly_and_never_shows_f_again():
    conn, board, group, clock, _ = idle(emergency_f_hold_s=0.25)
    emergency_with(conn, board, clock)
    conn.on_fault("ESTOP_PRESSED", "", False)
    clock.advance(0.125)
    assert conn.clear_latched() == ["ESTOP_PRESSED"]
    assert conn.state == "emergency"  # CP F shown for its whole hold
    clock.advance(0.125)
    board.wire.clear()
    conn.try_recover()
    assert conn.state == "available"
    assert ("board", "state_f", True) not in board.wire and not board.state_f


# ---- the supervisor that fails, the board's own limit, the names in the logs and events --------------------------
def test_a_failing_supervisor_cuts_the_power_and_says_why(monkeypatch):
    conn, board, group, clock, events = charging()
    def broken(*_):
        raise ValueError("boom")
    monkeypatch.setattr(conn.supervisor, "check_io", broken)
    board.wire.clear()
    board.measure(clock(), 380.0, 50.0)
    assert board.wire[:2] == [("group", "emergency_off"), ("board", "open")]
    raised = [(e.code, e.detail) for e in events if isinstance(e, FaultRaised)]
    assert ("CONTROLLER_INTERNAL", "safety supervisor failed") in raised


def test_the_boards_own_limit_has_5_percent_margin_above_600_v():
    cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=1000, max_current_a=200, max_power_kw=60, group="A")
    clock = FakeClock()
    conn = Connector(cfg, ChargingConfig(), FakeBoard(), FakeGroup(), clock=clock, wall_clock=clock)
    conn.ev_parameters = EvChargeParameters(max_voltage_v=900, max_current_a=150)
    assert conn.board_max_voltage_v() == pytest.approx(900 + 45.0)
    conn.ev_parameters = EvChargeParameters(max_voltage_v=500, max_current_a=150)
    assert conn.board_max_voltage_v() == pytest.approx(500 + 30.0)


def test_contactors_refused_are_named_in_the_log(caplog):
    conn, board, group, clock, events = idle()
    with caplog.at_level(logging.INFO, logger="controller.connector.output_guard"):
        conn.close_contactors()
    assert not board.contactors_cmd
    assert "contactors not energized: CP A, not C" in caplog.text


def test_the_restart_reason_reaches_the_event():
    conn, board, group, clock, events = plugged()
    assert conn.restart_communication("SLAC failed: no CM_SLAC_PARM.REQ")
    assert [e.reason for e in events if isinstance(e, CommunicationRestart)] == ["SLAC failed: no CM_SLAC_PARM.REQ"]


def test_the_isolation_given_is_the_isolation_answered():
    conn, board, group, clock, events = charging()
    assert conn.evse_status(IsolationLevel.FAULT).isolation == IsolationLevel.FAULT
    assert conn.evse_status().isolation == IsolationLevel.VALID


# ---- the technician's snapshot (console `status`, OCPP) ------------------------------------------------------
def test_the_snapshot_of_a_charging_port():
    conn, board, group, clock, events = charging()
    conn.ev_soc = 42.0
    group.answer(clock(), 380.04, 100.26)
    board.measure(clock(), 379.96, 100.26)
    snap = conn.snapshot()
    session = snap.pop("session")
    assert snap == {"connector": 1, "type": "CCS1", "state": "charging", "cp": "C", "voltage_v": 380.0,
                    "current_a": 100.3, "power_kw": round(379.96 * 100.26 / 1000, 2), "power_source": "modules",
                    "soc": 42.0, "contactors_closed": True, "modules_on": True, "faults": []}
    assert session == conn.session.to_json() and session["evcc_id"] == "abc"


def test_the_snapshot_takes_a_fresh_meters_power_and_names_the_faults():
    class Meter:
        fresh = True
        latest = type("Reading", (), {"power_w": 37_654.0})()
    conn, board, group, clock, events = charging()
    conn.meter = Meter()
    conn.on_fault("ISOLATION_WARNING", "test", True)
    board.status = replace(board.status, dc_minus_closed=False)
    snap = conn.snapshot()
    assert (snap["power_kw"], snap["power_source"]) == (37.65, "meter")
    assert snap["faults"] == ["ISOLATION_WARNING"] and snap["contactors_closed"] is False
    Meter.fresh = False
    assert conn.snapshot()["power_source"] == "modules"


def test_the_snapshot_of_an_idle_port():
    conn, board, group, clock, events = idle()
    snap = conn.snapshot()
    assert (snap["state"], snap["cp"], snap["session"], snap["soc"], snap["modules_on"], snap["power_kw"]) == \
        ("available", "A", None, None, False, 0.0)


# ---- unplugged: everything back to the start -------------------------------------------------------------------
def test_an_unplug_mid_session_ends_it_as_unplugged_and_offers_the_port_again():
    conn, board, group, clock, events = plugged(auto_authorize=False)
    conn.ev_setup("abc")
    conn.authorize()
    board.log.clear()
    cp(conn, board, "A")
    assert conn.state == "available" and ended(events) == ["unplugged"]
    assert board.state_f is False and board.pwm == 100.0 and ("pwm", 100.0) in board.log
    assert conn.authorized is False


def test_an_error_shutdown_outside_charging_holds_for_a_landing_contact_like_a_stop():
    conn, board, group, clock = at_test_voltage()
    group.contact_closing = True
    group.log.clear()
    conn.on_fault("PORT_OVERPOWER", "test", True)
    assert conn.state == "error_shutdown"
    assert not [c for c in group.log if c[0] == "set"]
    group.contact_closing = False
    settle(conn, board, group, clock, steps=1)
    assert [c for c in group.log if c[0] == "set"][0][2] == 0.0


def test_an_invalid_imd_fault_clears_with_the_first_valid_reading():
    conn, board, group, clock, events = charging(imd_invalid_after_s=0.2)
    conn.imd.valid = False
    ticks(conn, clock, 0.3)
    assert "IMD_INVALID" in conn.active_faults
    conn.imd.valid = True
    ticks(conn, clock, 0.025)
    assert "IMD_INVALID" not in conn.active_faults


def test_a_fault_raised_without_detail_has_an_empty_one():
    conn, board, group, clock, events = idle()
    conn.raise_fault("ISOLATION_WARNING")
    assert [e.detail for e in events if isinstance(e, FaultRaised)] == [""]


# ---- energy: counted in precharge, charging and stopping, from the meter when there is one -------------------------
def test_energy_is_counted_in_precharge_and_stopping_too():
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock)
    assert finished(conn) and conn.ev_precharge_request(380.0, 2.0).code == ResponseCode.OK
    assert flowing(conn, board, group, clock, 0.1, 380.0, 2.0) == pytest.approx(380 * 2 * 0.1 / 3600, rel=0.05)

    conn, board, group, clock, events = charging()
    conn.ev_power_delivery(False)
    assert conn.state == "stopping"
    assert flowing(conn, board, group, clock, 0.04, 380.0, 90.0) == pytest.approx(380 * 90 * 0.04 / 3600, rel=0.05)


def test_a_stalled_loop_counts_at_most_half_a_second_per_tick():
    conn, board, group, clock, events = charging()
    conn.ev_current_demand(CurrentDemand(target_voltage_v=400.0, target_current_a=5.0))
    flowing(conn, board, group, clock, 0.05, 400.0, 5.0)
    before = conn.session.module_energy_wh
    clock.advance(0.8)
    conn.tick()  # late: skipped once
    clock.advance(0.02)
    board.measure(clock(), 400.0, 5.0)
    group.answer(clock(), 400.0, 5.0)
    conn.tick()
    assert conn.session.module_energy_wh - before == pytest.approx(400 * 5 * 0.5 / 3600)


def test_a_fresh_meter_brackets_the_session_and_is_read_every_tick():
    class Reading:
        energy_import_wh, power_w = 10_000.0, 0.0
    class Meter:
        fresh, latest = True, Reading()
    conn, board, group, clock, events = make()
    conn.meter = Meter()
    to_charging(conn, board, group, clock)
    Reading.energy_import_wh, Reading.power_w = 10_250.0, 36_000.0
    conn.tick()
    record = conn.session.to_json()
    assert (record["energy_kwh"], record["peak_kw"], record["energy_source"]) == (0.25, 36.0, "meter")


# ---- the lock and what a finished session leaves ------------------------------------------------------------------
def test_the_lock_is_released_once_below_60_v_and_not_commanded_again():
    conn, board, group, clock, events = stopped_at_welding_detection()
    board.status = replace(board.status, cable_voltage_v=300.0)
    board.log.clear()
    power_down_done(conn, board, group, clock)
    conn.ev_stop_session()
    assert conn.state == "session_end" and ("lock", False) not in board.log  # still 300 V on the cable
    board.status = replace(board.status, cable_voltage_v=59.0)
    ticks(conn, clock, 0.5)
    assert board.log.count(("lock", False)) == 1


def test_a_finished_session_leaves_no_soc_and_names_its_connector():
    conn, board, group, clock, events = charging()
    conn.ev_soc = 80.0
    cp(conn, board, "A")
    assert conn.snapshot()["soc"] is None
    assert [e.connector for e in events if isinstance(e, SessionEnded)] == [1]


def test_a_fresh_port_unlocks_on_request_and_says_unknown_without_a_board_status():
    conn, board, group, clock, events = idle()
    assert conn.unlock_on_request() is None and board.log[-1] == ("lock", False)
    board.status = None
    assert conn.lock_state() == "UNKNOWN"
