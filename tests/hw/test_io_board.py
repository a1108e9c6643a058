"""IoBoard driver against frames built from dbc/io_board.dbc (no simulator: the test plays the board)."""
from __future__ import annotations

import asyncio
import uuid

import can
import pytest

from controller.hw.can_port import CanPort
from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import crc8_sae_j1850, e2e_crc
from controller.hw.io_board import IoBoard, IoStatus
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(20)

DB = load_dbc("io_board")
COMMAND = DB.get_message_by_name("IoCommand")
STATUS = DB.get_message_by_name("IoStatus")
MEASURE = DB.get_message_by_name("IoDcMeasure")
TEMPS = DB.get_message_by_name("IoTemperatures")
CONNECTOR = 2


class Rig:
    """A driver on one virtual bus and a raw bus on the same channel that plays the board."""

    def __init__(self, clock=None, **kwargs) -> None:
        channel = f"io-{uuid.uuid4().hex}"
        self.port = CanPort(can.Bus(interface="virtual", channel=channel), "controller")
        self.board_bus = can.Bus(interface="virtual", channel=channel)
        self.statuses: list[IoStatus] = []
        self.faults: list[tuple[str, str, bool]] = []
        extra = {"clock": clock} if clock is not None else {}
        self.board = IoBoard(self.port, CONNECTOR, on_status=self.statuses.append,
                             on_fault=lambda code, detail, active: self.faults.append((code, detail, active)),
                             **extra, **kwargs)
        self.board.attach()

    def commands(self) -> list[dict]:
        """Every command frame the driver has sent so far, decoded through the DBC."""
        out = []
        while (msg := self.board_bus.recv(timeout=0)) is not None:
            assert msg.arbitration_id == COMMAND.frame_id + CONNECTOR
            out.append(COMMAND.decode(msg.data, decode_choices=False))
        return out

    def deliver(self, message, data: bytes) -> None:
        """Hand one board frame to the driver's port, synchronously."""
        self.port.dispatch(can.Message(arbitration_id=message.frame_id + CONNECTOR, data=data,
                                       is_extended_id=False))

    def close(self) -> None:
        self.port.close()
        self.board_bus.shutdown()


def status_frame(**overrides) -> bytes:
    values = {"CpState": 0, "Estop": 0, "DcPlusClosed": 0, "DcMinusClosed": 0, "LockState": 0,
              "CpHighVoltage": 12.0, "CpLowVoltage": 12.0, "ProximityState": 0, "WatchdogTripped": 0, "TripCause": 0,
              "HeartbeatEcho": 0, "CpDutyMeasured": 100.0}
    values.update(overrides)
    return STATUS.encode(values, strict=True)


def temps_frame(plus: float, minus: float, cable: float) -> bytes:
    return TEMPS.encode({"TempDcPlus": plus, "TempDcMinus": minus, "TempCable": cable}, strict=True)


@pytest.fixture
def rig():
    r = Rig(clock=FakeClock(100.0))
    yield r
    r.close()


def test_command_frame_bytes_match_the_dbc_layout(rig):
    rig.board.set_pwm(5)
    rig.board.set_max_voltage(450.0)
    rig.board.close_contactors()
    rig.board.set_lock(True)
    sent = rig.commands()
    assert [c["HeartbeatCounter"] for c in sent] == [1, 2, 3, 4]
    last = dict(sent[-1])
    assert last.pop("Crc") == e2e_crc(COMMAND.frame_id + CONNECTOR, COMMAND.encode(
        {**last, "Crc": 0})[1:])
    assert last == {"CpDuty": 5.0, "RequestStateF": 0, "DcPlusClose": 1, "DcMinusClose": 1, "LockRequest": 1,
                    "ResetRequest": 0, "MaxVoltage": 450.0, "HeartbeatCounter": 4}
    rig.board.set_state_f(True)
    msg = rig.board_bus.recv(timeout=0)
    # CRC in byte 0, counter 5 in byte 1, CpDuty 50 (0.1 %) in bits 16-26, F bit 27, DC+ 28, DC- 29, lock 30,
    # MaxVoltage 4500 (0.1 V) in bytes 4-5
    payload = bytes([5, 0x32, 0x78, 0x94, 0x11, 0, 0])
    crc = crc8_sae_j1850(bytes([0x02, 0x01]) + payload)  # data id 0x102 (the frame ID), low byte first
    assert bytes(msg.data) == bytes([crc]) + payload
    assert msg.arbitration_id == 0x100 + CONNECTOR and not msg.is_extended_id


def test_crc8_sae_j1850_check_values():
    """The AUTOSAR CRC library's published check values for CRC-8 SAE J1850."""
    assert crc8_sae_j1850(b"123456789") == 0x4B
    assert crc8_sae_j1850(bytes(4)) == 0x59
    assert crc8_sae_j1850(bytes([0xF2, 0x01, 0x83])) == 0x37
    assert crc8_sae_j1850(bytes([0xFF] * 4)) == 0x74


def test_open_forgets_the_maximum_voltage_and_bad_maximums_are_refused(rig):
    rig.board.set_max_voltage(470.04)
    rig.board.close_contactors()
    rig.board.open_contactors()
    sent = rig.commands()
    assert [c["MaxVoltage"] for c in sent] == [470.0, 470.0, 0.0]
    assert rig.board.max_voltage_v == 0.0
    for bad in (0, -1.0, 1500.1, float("nan"), "450"):
        with pytest.raises(ValueError, match="max voltage"):
            rig.board.set_max_voltage(bad)
    assert rig.commands() == []


def test_reset_request_only_while_tripped_and_commanded_open(rig):
    rig.board.set_max_voltage(450.0)
    rig.board.close_contactors()
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=1, CpState=5, HeartbeatEcho=2))
    rig.board.send_command()  # still commanded closed: no reset
    rig.board.open_contactors()
    rig.board.send_command()
    assert [c["ResetRequest"] for c in rig.commands()] == [0, 0, 0, 1, 1]
    rig.deliver(STATUS, status_frame(HeartbeatEcho=4))
    rig.board.send_command()
    assert [c["ResetRequest"] for c in rig.commands()] == [0]


def test_no_command_at_all_while_the_heartbeat_is_held(rig):
    allowed = [True]
    rig.board.heartbeat_allowed = lambda: allowed[0]
    rig.board.send_command()
    allowed[0] = False
    assert rig.board.send_command() is False
    rig.board.open_contactors()  # even setters: a dead control loop must not feed the board's watchdog
    allowed[0] = True
    rig.board.send_command()
    assert [c["HeartbeatCounter"] for c in rig.commands()] == [1, 2]


def test_an_echo_that_does_not_follow_the_commands_is_a_lost_board(rig):
    for _ in range(3):
        rig.board.send_command()
    for _ in range(20):
        rig.deliver(STATUS, status_frame(HeartbeatEcho=3))  # follows: the last one sent
        rig.board.check_link()
    assert rig.faults == []
    for _ in range(8):
        rig.board.send_command()  # counters 4..11: 3 leaves the window of the last 8 sent
    for turn in range(5):  # the board keeps echoing 3 (it rejects the commands)
        for _ in range(2):
            rig.deliver(STATUS, status_frame(HeartbeatEcho=3))
        rig.board.check_link()
    assert rig.faults == []  # 10 frames over 5 turns: not yet
    rig.deliver(STATUS, status_frame(HeartbeatEcho=3))
    assert [(c, a) for c, _, a in rig.faults] == [("IO_BOARD_LOST", True)]
    assert "does not follow" in rig.faults[0][1] and not rig.board.online
    rig.deliver(STATUS, status_frame(HeartbeatEcho=11))
    assert [(c, a) for c, _, a in rig.faults][-1] == ("IO_BOARD_LOST", False)


def test_a_backlog_read_after_a_stall_is_not_a_board_that_does_not_follow(rig):
    """Start-up under load: the first two commands never reached the board, then this process was not
    scheduled while the board sent status after status echoing nothing; all of it is read in one turn."""
    rig.board.send_command()
    rig.board.send_command()
    for _ in range(40):
        rig.deliver(STATUS, status_frame(HeartbeatEcho=0))
    rig.board.check_link()
    rig.board.send_command()
    for _ in range(5):
        rig.deliver(STATUS, status_frame(HeartbeatEcho=0))  # sent before command 3 reached the board
    rig.board.check_link()
    rig.deliver(STATUS, status_frame(HeartbeatEcho=3))
    assert rig.faults == [] and rig.board.online


def test_a_board_that_never_follows_is_lost_after_five_turns_even_with_few_frames(rig):
    for turn in range(5):
        rig.board.send_command()
        for _ in range(3):
            rig.deliver(STATUS, status_frame(HeartbeatEcho=0))
        rig.board.check_link()
        if turn < 4:
            assert rig.faults == []
    assert [(c, a) for c, _, a in rig.faults] == [("IO_BOARD_LOST", True)]


def test_an_out_of_range_field_does_not_hide_the_estop(rig):
    """One bad field (here the measured duty) used to reject the whole frame, e-stop bit included."""
    rig.deliver(STATUS, status_frame(CpState=2, CpHighVoltage=6.0, CpLowVoltage=-12.0))
    bad_duty = bytearray(status_frame(Estop=1, CpState=2, CpHighVoltage=6.0, CpLowVoltage=-12.0))
    bad_duty[5:7] = bytes([0xFF, 0x07])  # CpDutyMeasured 204.7 %
    rig.deliver(STATUS, bytes(bad_duty))
    assert [(c, a) for c, _, a in rig.faults] == [("ESTOP_PRESSED", True)]
    assert rig.board.status.estop and rig.board.status.cp_state == "INVALID"  # the CP reading is not trusted
    assert [s.cp_state for s in rig.statuses] == ["C", "INVALID"]
    assert rig.port.counters.rejected == 1  # still counted, with its reason
    assert any("CpDutyMeasured" in r for r in rig.port.counters.rejected_reasons)


@pytest.mark.parametrize("data, reason, cp, lock", [
    (bytes([7 | 0x08]) + status_frame()[1:], "CpState value 7", "INVALID", "UNLOCKED"),
    (bytes([0xC0 | 0x08]) + status_frame()[1:], "LockState value 3", "A", "FAULT"),
])
def test_undefined_values_read_as_safe_ones(rig, data, reason, cp, lock):
    rig.deliver(STATUS, data)  # 0x08: Estop
    st = rig.board.status
    assert (st.cp_state, st.lock_state, st.estop) == (cp, lock, True)
    assert any(reason in r for r in rig.port.counters.rejected_reasons)
    assert [(c, a) for c, _, a in rig.faults] == [("ESTOP_PRESSED", True)]


def test_board_trip_causes_map_to_faults(rig):
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=2, CpState=5))
    assert rig.board.status.trip_cause == "COMMANDS_REJECTED"
    rig.deliver(STATUS, status_frame())
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, TripCause=3, CpState=5))
    rig.deliver(STATUS, status_frame())
    assert [(c, a) for c, _, a in rig.faults] == [
        ("IO_WATCHDOG_TRIPPED", True), ("IO_WATCHDOG_TRIPPED", False),
        ("IO_BOARD_OVERVOLTAGE_TRIP", True), ("IO_BOARD_OVERVOLTAGE_TRIP", False)]
    assert "COMMANDS_REJECTED" in rig.faults[0][1]


def test_open_contactors_and_duty_values(rig):
    rig.board.close_contactors()
    rig.board.open_contactors()
    rig.board.set_pwm(100)
    rig.board.set_pwm(0)
    sent = rig.commands()
    assert [(c["DcPlusClose"], c["DcMinusClose"]) for c in sent[:2]] == [(1, 1), (0, 0)]
    assert [c["CpDuty"] for c in sent[2:]] == [100.0, 0.0]


def test_heartbeat_counter_rolls_over_at_255(rig):
    for _ in range(300):
        rig.board.send_command()
    counters = [c["HeartbeatCounter"] for c in rig.commands()]
    assert counters[:3] == [1, 2, 3]
    assert counters[254:258] == [255, 0, 1, 2]
    assert all((b - a) % 256 == 1 for a, b in zip(counters, counters[1:]))


@pytest.mark.parametrize("bad", [-0.1, 100.1, float("nan"), "5"])
def test_bad_duty_is_refused_with_a_reason(rig, bad):
    with pytest.raises(ValueError, match="CP duty"):
        rig.board.set_pwm(bad)
    assert rig.commands() == []


@pytest.mark.parametrize("connector_id", [0, 16])
def test_connector_id_outside_the_dbc_range_is_refused(connector_id):
    port = CanPort(can.Bus(interface="virtual", channel=f"io-{uuid.uuid4().hex}"), "c")
    try:
        with pytest.raises(ValueError, match="connector_id"):
            IoBoard(port, connector_id, on_status=lambda s: None, on_fault=lambda *a: None)
    finally:
        port.close()


def test_status_measure_and_temperatures_are_decoded(rig):
    assert rig.board.status is None and not rig.board.online
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 401.3, "CableCurrent": 0.0}))
    rig.deliver(STATUS, status_frame(CpState=2, CpHighVoltage=6.0, CpLowVoltage=-12.0, ProximityState=1,
                                     DcPlusClosed=1, DcMinusClosed=1, LockState=1, HeartbeatEcho=42,
                                     CpDutyMeasured=5.0))
    st = rig.board.status
    assert (st.cp_state, st.cp_high_v, st.cp_low_v, st.proximity) == ("C", 6.0, -12.0, "CONNECTED")
    assert (st.dc_plus_closed, st.dc_minus_closed, st.lock_state) == (True, True, "LOCKED")
    assert (st.estop, st.watchdog_tripped, st.heartbeat_echo, st.cp_duty_measured) == (False, False, 42, 5.0)
    assert st.cable_voltage_v == 401.3 and st.temp_cable_c is None
    assert st.t == 100.0
    assert rig.board.online and rig.board.contactors_closed and not rig.board.contactors_open
    rig.deliver(TEMPS, temps_frame(41.5, 40.0, 33.2))
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 12.5, "CableCurrent": -3.2}))
    st = rig.board.status
    assert (st.temp_dc_plus_c, st.temp_dc_minus_c, st.temp_cable_c, st.cable_voltage_v) == (41.5, 40.0, 33.2, 12.5)
    assert len(rig.statuses) == 1  # measures and temperatures are read from .status, not pushed


def test_cable_current_and_the_age_of_measure_and_temperatures(rig):
    rig.deliver(STATUS, status_frame())
    st = rig.board.status
    assert st.measure_t == float("-inf") and st.temps_t is None  # never measured reads as infinitely old
    rig.board.clock.now = 101.0
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 400.0, "CableCurrent": 512.3}))
    rig.board.clock.now = 101.5
    rig.deliver(TEMPS, temps_frame(30.0, 30.0, 30.0))
    st = rig.board.status
    assert (st.cable_current_a, st.measure_t, st.temps_t) == (512.3, 101.0, 101.5)
    rig.board.clock.now = 102.0
    rig.deliver(MEASURE, MEASURE.encode({"CableVoltage": 400.0, "CableCurrent": -20.0}))
    rig.deliver(STATUS, status_frame(HeartbeatEcho=1))  # a new status frame keeps the latest measure
    st = rig.board.status
    assert (st.cable_current_a, st.measure_t, st.temps_t, st.t) == (-20.0, 102.0, 101.5, 102.0)
    assert len(rig.statuses) == 1  # neither is a status change


def test_on_status_fires_only_on_change(rig):
    rig.deliver(STATUS, status_frame(HeartbeatEcho=1))
    rig.deliver(STATUS, status_frame(HeartbeatEcho=2))
    rig.deliver(STATUS, status_frame(HeartbeatEcho=3))
    assert [s.cp_state for s in rig.statuses] == ["A"]
    rig.deliver(STATUS, status_frame(CpState=1, CpHighVoltage=9.0, CpLowVoltage=9.0, ProximityState=1))
    rig.deliver(STATUS, status_frame(CpState=1, CpHighVoltage=9.0, CpLowVoltage=9.0, ProximityState=1))
    rig.deliver(STATUS, status_frame(CpState=5, CpHighVoltage=-12.0, CpLowVoltage=-12.0, ProximityState=1))
    assert [s.cp_state for s in rig.statuses] == ["A", "B", "F"]
    assert rig.board.contactors_open


def test_estop_is_reported_inside_the_receive_handler(rig):
    """The connector's emergency reaction runs in the same call: its frame is on the bus when dispatch returns."""
    seen_in_callback = []

    def on_fault(code, detail, active):
        rig.faults.append((code, detail, active))
        seen_in_callback.append(rig.board.status.estop)
        rig.board.open_contactors()
        rig.board.set_state_f(True)

    rig.board._on_fault = on_fault
    rig.board.close_contactors()
    rig.commands()
    rig.deliver(STATUS, status_frame(Estop=1, DcPlusClosed=1, DcMinusClosed=1))
    assert [(c, a) for c, _, a in rig.faults] == [("ESTOP_PRESSED", True)]
    assert seen_in_callback == [True]
    sent = rig.commands()
    assert (sent[-1]["DcPlusClose"], sent[-1]["DcMinusClose"], sent[-1]["RequestStateF"]) == (0, 0, 1)
    rig.deliver(STATUS, status_frame(Estop=1))
    rig.deliver(STATUS, status_frame(Estop=1, HeartbeatEcho=9))
    assert len(rig.faults) == 1  # once per transition, not per frame
    rig.deliver(STATUS, status_frame(Estop=0))
    assert [(c, a) for c, _, a in rig.faults] == [("ESTOP_PRESSED", True), ("ESTOP_PRESSED", False)]


def test_a_reaction_that_raised_is_delivered_again_on_the_next_frame(rig):
    calls = []

    def failing_once(code, detail, active):
        calls.append((code, active))
        if len(calls) == 1:
            raise RuntimeError("connector bug")

    rig.board._on_fault = failing_once
    rig.deliver(STATUS, status_frame(Estop=1, CpState=1))
    assert rig.port.counters.rejected == 1  # the port contains the error and counts it
    assert rig.statuses == []
    rig.deliver(STATUS, status_frame(Estop=1, CpState=1))
    assert calls == [("ESTOP_PRESSED", True), ("ESTOP_PRESSED", True)]
    assert [s.cp_state for s in rig.statuses] == ["B"]
    rig.deliver(STATUS, status_frame(Estop=1, CpState=1))
    assert len(calls) == 2 and len(rig.statuses) == 1


def test_watchdog_tripped_is_reported_while_the_board_says_so(rig):
    rig.deliver(STATUS, status_frame())
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, CpState=5))
    rig.deliver(STATUS, status_frame(WatchdogTripped=1, CpState=5))
    rig.deliver(STATUS, status_frame())
    assert [(c, a) for c, _, a in rig.faults] == [("IO_WATCHDOG_TRIPPED", True), ("IO_WATCHDOG_TRIPPED", False)]


def _advance(rig, seconds: float, step: float = 0.05) -> None:
    """Run check_link as run() does, every `step` seconds of the fake clock."""
    for _ in range(round(seconds / step)):
        rig.board.clock.now += step
        rig.board.check_link()


def test_board_silence_raises_and_clears_io_board_lost(rig):
    rig.board.check_link()  # silence counts from here when no status ever came
    _advance(rig, 0.3)
    assert rig.faults == []
    _advance(rig, 0.05)
    assert [(c, a) for c, _, a in rig.faults] == [("IO_BOARD_LOST", True)]
    rig.deliver(STATUS, status_frame())
    assert rig.faults[-1][0::2] == ("IO_BOARD_LOST", False) and rig.board.online
    _advance(rig, 0.35)
    assert not rig.board.online
    assert [(c, a) for c, _, a in rig.faults][-1] == ("IO_BOARD_LOST", True)


def test_a_stall_of_the_controller_itself_is_not_board_silence(rig):
    """A process that was not scheduled for a second reads the status waiting in its queue before judging."""
    rig.deliver(STATUS, status_frame())
    rig.board.check_link()
    rig.board.clock.now += 1.0  # nothing ran meanwhile: no turn of run(), no receive
    rig.board.check_link()
    assert rig.faults == [] and rig.board.online
    rig.deliver(STATUS, status_frame())
    _advance(rig, 0.25)
    assert rig.faults == []
    _advance(rig, 0.1)  # silence while the driver itself runs on time still counts
    assert [(c, a) for c, _, a in rig.faults] == [("IO_BOARD_LOST", True)]


def test_overtemperature_with_hysteresis(rig):
    rig.deliver(TEMPS, temps_frame(60.0, 60.0, 40.0))
    rig.deliver(TEMPS, temps_frame(60.0, 90.5, 40.0))
    rig.deliver(TEMPS, temps_frame(60.0, 91.0, 40.0))
    assert [(c, a) for c, _, a in rig.faults] == [("CONNECTOR_OVERTEMPERATURE", True)]
    assert "DC- pin" in rig.faults[0][1]
    rig.deliver(TEMPS, temps_frame(60.0, 86.0, 40.0))  # below the limit, inside the hysteresis band
    assert len(rig.faults) == 1
    rig.deliver(TEMPS, temps_frame(60.0, 84.9, 40.0))
    rig.deliver(TEMPS, temps_frame(60.0, 80.0, 40.0))
    rig.deliver(TEMPS, temps_frame(60.0, 60.0, 92.0))
    assert [(c, a) for c, _, a in rig.faults] == [("CONNECTOR_OVERTEMPERATURE", True),
                                                  ("CONNECTOR_OVERTEMPERATURE", False),
                                                  ("CONNECTOR_OVERTEMPERATURE", True)]


@pytest.mark.parametrize("message, data, reason", [
    (STATUS, status_frame()[:7], "DLC 7"),
    (MEASURE, bytes([0xFF, 0xFF, 0, 0, 0, 0, 0, 0]), "CableVoltage"),
    (TEMPS, bytes([0xFF, 0x7F]) + temps_frame(30, 30, 30)[2:], "TempDcPlus"),
    (TEMPS, bytes(9), "DLC 9"),
])
def test_bad_frames_are_rejected_and_counted(rig, message, data, reason):
    rig.deliver(STATUS, status_frame(HeartbeatEcho=5))
    before = rig.board.status
    rig.deliver(message, data)
    assert rig.port.counters.rejected == 1
    assert any(reason in r for r in rig.port.counters.rejected_reasons)
    assert rig.board.status == before and rig.faults == []


def _run_with(rig: Rig, until, timeout_s: float = 3.0) -> bool:
    """Run the driver on a real loop until `until()` holds or the (generous) deadline passes."""
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        rig.port.start(loop)
        task = asyncio.create_task(rig.board.run())
        try:
            deadline = loop.time() + timeout_s
            while not until():
                if loop.time() > deadline:
                    return False
                await asyncio.sleep(0.01)
            return True
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            rig.port.stop()
    return asyncio.run(main())


def test_run_sends_commands_with_consecutive_heartbeats():
    rig = Rig(command_period_s=0.01)
    received: list[int] = []

    def enough() -> bool:
        received.extend(c["HeartbeatCounter"] for c in rig.commands())
        return len(received) >= 5
    try:
        assert _run_with(rig, enough)
        assert received[:5] == [1, 2, 3, 4, 5]
    finally:
        rig.close()


def test_run_reports_io_board_lost_when_nothing_answers():
    rig = Rig(command_period_s=0.01, lost_after_s=0.05)
    try:
        assert _run_with(rig, lambda: bool(rig.faults))
        assert [(c, a) for c, _, a in rig.faults] == [("IO_BOARD_LOST", True)]
    finally:
        rig.close()


def test_stop_ends_run_and_silences_setters(rig):
    rig.board.stop()
    rig.board.close_contactors()
    assert rig.commands() == []

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.05, rig.board.stop)
        await asyncio.wait_for(rig.board.run(), timeout=5)
    asyncio.run(main())
    sent = rig.commands()
    assert sent and sent[-1]["DcPlusClose"] == 1  # run() resumed sending the cached command until stop()
