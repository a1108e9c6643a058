"""The I/O board driver at its edges: bounds exactly at their values, the order in which a received batch is
handled, what the supervisor hears, the words a technician reads, and the send rate. Each test here kills
mutants of controller/hw/io_board.py that survived every other test (make mutate)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

import can
import pytest

from controller.hw.can_port import CanPort
from controller.hw.io_board import ECHO_LAG_FRAMES, ECHO_LAG_TURNS, IoBoard
from tests.fakes.clock import FakeClock
from tests.hw.test_io_board import MEASURE, STATUS, TEMPS, Rig, rig, status_frame, temps_frame  # noqa: F401

pytestmark = pytest.mark.timeout(20)

ECHO_WINDOW_FILL = 8  # commands sent before the board is judged: the echo 0 is none of them


def _codes(rig):
    return [(code, active) for code, _, active in rig.faults]


def _batch(rig, *frames) -> None:
    """Frames received together, as the CAN reader hands them over."""
    rig.port.dispatch_batch([can.Message(arbitration_id=message.frame_id + rig.board.connector_id, data=data,
                                         is_extended_id=False) for message, data in frames])


# ---- construction -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("connector_id", [1, 15])
def test_the_first_and_last_connector_ids_of_the_dbc_are_accepted(connector_id):
    port = CanPort(can.Bus(interface="virtual", channel=f"io-{uuid.uuid4().hex}"), "c")
    try:
        board = IoBoard(port, connector_id, on_status=lambda s: None, on_fault=lambda *a: None)
        assert board.connector_id == connector_id
    finally:
        port.close()


@pytest.mark.parametrize("periods", [{"command_period_s": 0.0}, {"lost_after_s": 0.0},
                                     {"command_period_s": -0.05}, {"lost_after_s": -1.0}])
def test_a_period_or_silence_bound_of_zero_or_less_is_refused_alone(periods):
    port = CanPort(can.Bus(interface="virtual", channel=f"io-{uuid.uuid4().hex}"), "c")
    try:
        with pytest.raises(ValueError, match="^command_period_s and lost_after_s must be positive$"):
            IoBoard(port, 1, on_status=lambda s: None, on_fault=lambda *a: None, **periods)
    finally:
        port.close()


def test_the_default_command_period_sends_five_heartbeats_within_the_boards_300_ms_watchdog(rig):
    """dbc/io_board.dbc: the board trips when no new heartbeat arrives for more than 300 ms; four lost frames in
    a row must not trip it."""
    assert rig.board.command_period_s * 5 < 0.3


def test_a_fresh_drivers_first_frame_has_the_pilot_off(rig):
    rig.board.send_command()
    assert rig.commands()[0]["CpDuty"] == 0.0


# ---- commands ------------------------------------------------------------------------------------------------
def test_duty_and_maximum_voltage_keep_their_tenths_on_the_wire(rig):
    rig.board.set_pwm(53.3)
    rig.board.set_max_voltage(450.5)
    rig.board.set_max_voltage(470.04)
    sent = rig.commands()
    tenth = pytest.approx  # the DBC's 0.1 scale decodes 533 as 53.300000000000004
    assert (sent[0]["CpDuty"], sent[1]["MaxVoltage"], sent[2]["MaxVoltage"]) == tenth((53.3, 450.5, 470.0),
                                                                                      abs=0.01)
    assert rig.board.max_voltage_v == 470.0


@pytest.mark.parametrize("volts", [0.5, 1500.0])
def test_a_maximum_voltage_at_either_end_of_the_dbc_range_is_sent(rig, volts):
    rig.board.set_max_voltage(volts)
    assert rig.commands()[0]["MaxVoltage"] == pytest.approx(volts, abs=0.01) and rig.board.max_voltage_v == volts


def test_a_close_without_a_maximum_voltage_warns_and_one_with_any_maximum_does_not(rig, caplog):
    with caplog.at_level(logging.WARNING, logger="controller.hw.io_board"):
        rig.board.close_contactors()
        assert "close without a MaxVoltage" in caplog.text
        caplog.clear()
        rig.board.open_contactors()
        rig.board.set_max_voltage(1.0)
        rig.board.close_contactors()
        assert "MaxVoltage" not in caplog.text


def test_run_sends_one_command_per_period_and_never_bursts():
    """The schedule is fixed-rate: in 0.3 s at 50 ms about six frames, fewer on a loaded machine, never more."""
    board_rig = Rig(command_period_s=0.05)
    counted: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        board_rig.port.start(loop)
        task = asyncio.create_task(board_rig.board.run())
        started = time.monotonic()
        await asyncio.sleep(0.3)
        elapsed = time.monotonic() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        board_rig.port.stop()
        counted.append(len(board_rig.commands()))
        counted.append(int(elapsed / 0.05) + 2)
    try:
        asyncio.run(main())
    finally:
        board_rig.close()
    sent, most = counted
    assert 1 <= sent <= most, f"{sent} command frames in one run of at most {most} periods"


# ---- what is decoded -----------------------------------------------------------------------------------------
def test_pilot_voltages_and_measured_duty_keep_their_tenths(rig):
    rig.deliver(STATUS, status_frame(CpState=1, CpHighVoltage=8.9, CpLowVoltage=-8.9, CpDutyMeasured=53.3))
    st = rig.board.status
    assert (st.cp_high_v, st.cp_low_v, st.cp_duty_measured) == (8.9, -8.9, 53.3)


def test_before_any_measure_the_cable_reads_zero_volts_and_zero_amps(rig):
    rig.deliver(STATUS, status_frame())
    assert (rig.board.status.cable_voltage_v, rig.board.status.cable_current_a) == (0.0, 0.0)


def test_a_status_frame_keeps_the_temperatures_read_before_it(rig):
    rig.deliver(TEMPS, temps_frame(41.5, 40.3, 33.2))
    rig.deliver(STATUS, status_frame())
    st = rig.board.status
    assert (st.temp_dc_plus_c, st.temp_dc_minus_c, st.temp_cable_c) == (41.5, 40.3, 33.2)


def test_a_trip_cause_counts_only_while_the_board_is_tripped(rig):
    rig.deliver(STATUS, status_frame(TripCause=3))
    assert rig.board.status.trip_cause == "NONE" and rig.faults == []


def test_an_undefined_trip_cause_reads_unknown(rig):
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=6, CpState=5))
    assert rig.board.status.trip_cause == "UNKNOWN"
    assert _codes(rig) == [("IO_WATCHDOG_TRIPPED", True)] and "(UNKNOWN)" in rig.faults[0][1]


# ---- the order inside a received batch -------------------------------------------------------------------------
@pytest.mark.parametrize("urgent, fault, samples", [
    ((STATUS, status_frame(Estop=1)), "ESTOP_PRESSED", 1),
    ((TEMPS, temps_frame(40.0, 40.0, 95.0)), "CONNECTOR_OVERTEMPERATURE", 2)], ids=["status", "temperatures"])
def test_a_frame_that_can_fault_is_handled_before_the_measure_that_arrived_first_in_its_batch(rig, urgent, fault,
                                                                                             samples):
    order: list[str] = []
    rig.deliver(STATUS, status_frame())
    rig.board.listen_measurements(lambda status: order.append("sample"))
    rig.board._on_fault = lambda code, detail, active: order.append(code)
    _batch(rig, (MEASURE, MEASURE.encode({"CableVoltage": 400.0, "CableCurrent": 10.0})), urgent)
    assert order == [fault] + ["sample"] * samples  # temperatures are a sample for the supervisor too


# ---- what the supervisor hears -------------------------------------------------------------------------------
def test_the_measurement_listener_hears_every_measure_and_temperature_once_a_status_exists(rig):
    heard = []
    rig.board.listen_measurements(heard.append)
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 12.0, "CableCurrent": 0.0}))
    rig.deliver(TEMPS, temps_frame(30.0, 30.0, 30.0))
    assert heard == []  # nothing to hand over before the first status frame
    rig.deliver(STATUS, status_frame())
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 401.3, "CableCurrent": 12.5}))
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 402.0, "CableCurrent": 13.0}))
    rig.deliver(TEMPS, temps_frame(31.0, 32.0, 33.0))
    assert [(s.cable_voltage_v, s.cable_current_a, s.temp_cable_c) for s in heard] == [
        (401.3, 12.5, 30.0), (402.0, 13.0, 30.0), (402.0, 13.0, 33.0)]
    assert heard[-1] is rig.board.status


def test_temperatures_without_a_listener_still_judge_the_limit(rig):
    rig.deliver(STATUS, status_frame())
    rig.deliver(TEMPS, temps_frame(30.0, 30.0, 95.0))
    assert _codes(rig) == [("CONNECTOR_OVERTEMPERATURE", True)] and rig.board.status.temp_cable_c == 95.0


# ---- bounds exactly at their values -------------------------------------------------------------------------------
def test_silence_exactly_at_the_bound_is_not_yet_a_lost_board():
    board_rig = Rig(clock=FakeClock(100.0), lost_after_s=0.25)
    try:
        board_rig.board.check_link()
        for _ in range(4):  # 4 x 0.0625 s: exactly 0.25 s, in steps a float holds exactly
            board_rig.board.clock.now += 0.0625
            board_rig.board.check_link()
        assert board_rig.faults == []
        board_rig.board.clock.now += 0.0625
        board_rig.board.check_link()
        assert _codes(board_rig) == [("IO_BOARD_LOST", True)]
        assert board_rig.faults[0][1] == "no status from the I/O board for 0.31 s of the controller's own time"
        board_rig.deliver(STATUS, status_frame())
        assert board_rig.faults[-1] == ("IO_BOARD_LOST", "status received again, echo follows the commands", False)
    finally:
        board_rig.close()


@pytest.mark.parametrize("hot, name", [((90.0, 40.0, 40.0), "DC+ pin"), ((40.0, 90.0, 40.0), "DC- pin"),
                                       ((40.0, 40.0, 90.0), "cable")])
def test_the_temperature_limit_itself_is_allowed_and_a_tenth_above_names_the_sensor(rig, hot, name):
    rig.deliver(TEMPS, temps_frame(*hot))
    assert rig.faults == []
    rig.deliver(TEMPS, temps_frame(*(t + 0.1 if t == 90.0 else t for t in hot)))
    assert rig.faults == [("CONNECTOR_OVERTEMPERATURE", f"{name} at 90.1 degC (limit 90.0)", True)]


def test_the_overtemperature_clears_only_below_the_hysteresis_band_not_at_its_edge(rig):
    rig.deliver(TEMPS, temps_frame(40.0, 40.0, 95.0))
    rig.deliver(TEMPS, temps_frame(40.0, 40.0, 85.0))  # limit 90 - 5: still hot
    assert len(rig.faults) == 1
    rig.deliver(TEMPS, temps_frame(40.0, 40.0, 84.9))
    assert rig.faults[-1] == ("CONNECTOR_OVERTEMPERATURE", "hottest (cable) at 84.9 degC", False)


# ---- the heartbeat echo ----------------------------------------------------------------------------------------------
def _lagging_turns(rig, turns: int, frames_per_turn: int, echo: int = 0) -> None:
    for _ in range(turns):
        for _ in range(frames_per_turn):
            rig.deliver(STATUS, status_frame(HeartbeatEcho=echo))
        rig.board.check_link()


def test_a_fresh_driver_counts_the_echo_lag_from_zero(rig):
    for _ in range(ECHO_WINDOW_FILL):
        rig.board.send_command()
    per_turn = ECHO_LAG_FRAMES // (ECHO_LAG_TURNS + 1)
    _lagging_turns(rig, ECHO_LAG_TURNS + 1, per_turn)  # exactly ECHO_LAG_FRAMES frames over enough turns
    assert rig.faults == []
    rig.deliver(STATUS, status_frame(HeartbeatEcho=0))
    assert _codes(rig) == [("IO_BOARD_LOST", True)]
    last = ECHO_WINDOW_FILL
    assert rig.faults[0][1] == f"board echoes heartbeat 0, last sent {last}: it does not follow the commands"


def test_a_turn_before_any_status_is_not_a_lagging_turn(rig):
    rig.board.send_command()
    rig.board.check_link()  # nothing received yet
    _lagging_turns(rig, ECHO_LAG_TURNS, 3)  # 12 frames, but only 4 turns
    assert rig.faults == []
    _lagging_turns(rig, 1, 1)
    assert _codes(rig) == [("IO_BOARD_LOST", True)]


def test_turns_without_a_status_frame_do_not_add_to_the_echo_lag(rig):
    rig.board.send_command()
    _lagging_turns(rig, 1, ECHO_LAG_FRAMES + 2)  # plenty of frames, one turn
    for _ in range(ECHO_LAG_TURNS + 1):  # then a short silence: the driver turns, nothing arrives
        rig.board.clock.now += 0.01
        rig.board.check_link()
    assert rig.faults == []


def test_an_echo_that_follows_again_starts_the_turn_count_afresh(rig):
    rig.board.send_command()
    for _ in range(ECHO_LAG_FRAMES + 2):
        rig.deliver(STATUS, status_frame(HeartbeatEcho=0))
    rig.deliver(STATUS, status_frame(HeartbeatEcho=1))  # follows: the lag is forgiven within this turn
    rig.board.check_link()
    _lagging_turns(rig, ECHO_LAG_TURNS, 3)
    assert rig.faults == []



# ---- trips and what the technician reads -------------------------------------------------------------------------
def test_the_estop_and_its_release_say_so(rig):
    rig.deliver(STATUS, status_frame(Estop=1))
    rig.deliver(STATUS, status_frame(Estop=0))
    assert [detail for _, detail, _ in rig.faults] == ["emergency stop pressed", "emergency stop released"]


def test_the_overvoltage_trip_and_its_reset_say_so(rig):
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=3, CpState=5))
    rig.deliver(STATUS, status_frame())
    assert rig.faults == [
        ("IO_BOARD_OVERVOLTAGE_TRIP", "the I/O board opened the contactors: cable voltage above the programmed "
                                      "maximum", True),
        ("IO_BOARD_OVERVOLTAGE_TRIP", "board reset after the over-voltage trip", False)]


def test_a_watchdog_trip_clears_with_board_not_tripped(rig):
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=1, CpState=5))
    rig.deliver(STATUS, status_frame())
    assert rig.faults[-1] == ("IO_WATCHDOG_TRIPPED", "board not tripped", False)


def test_an_overvoltage_trip_whose_reaction_raised_holds_the_frame_until_it_is_taken(rig):
    calls = []

    def failing_once(code, detail, active):
        calls.append(code)
        if code == "IO_BOARD_OVERVOLTAGE_TRIP" and calls.count(code) == 1:
            raise RuntimeError("connector bug")

    rig.board._on_fault = failing_once
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=3, CpState=5))
    assert rig.statuses == []  # the connector hears of the tripped board only after the trip's reaction
    assert any("IoStatus: a fault reaction failed; the frame is delivered again with the next" in r
               for r in rig.port.counters.rejected_reasons)
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=3, CpState=5))
    assert calls == ["IO_BOARD_OVERVOLTAGE_TRIP", "IO_BOARD_OVERVOLTAGE_TRIP"]
    assert [s.cp_state for s in rig.statuses] == ["F"]


def test_two_bad_fields_are_both_named_in_one_reason(rig):
    bad = bytearray(status_frame(LockState=3))  # LockState 3 is not defined
    bad[5:7] = bytes([0xFF, 0x07])  # CpDutyMeasured 204.7 %
    rig.deliver(STATUS, bytes(bad))
    reasons = [r for r in rig.port.counters.rejected_reasons if "read as safe values" in r]
    assert len(reasons) == 1 and "; " in reasons[0] and "XX" not in reasons[0]
    assert "LockState" in reasons[0] and "CpDutyMeasured" in reasons[0]
    assert rig.board.status.lock_state == "FAULT"


def test_the_fault_log_line_names_the_board(rig, caplog):
    with caplog.at_level(logging.WARNING, logger="controller.faults"):
        rig.deliver(STATUS, status_frame(Estop=1))
    assert "I/O board 2: ESTOP_PRESSED raised: emergency stop pressed" in caplog.text
