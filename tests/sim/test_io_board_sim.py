"""The rig's I/O board simulator on the wire, alone (the test plays the controller) and with the real driver."""
from __future__ import annotations

import asyncio
import uuid

import can
import pytest

from controller.hw.can_port import CanPort
from controller.formats.can.dbc import load_dbc
from controller.hw.io_board import IoBoard
from controller.formats.can.e2e import e2e_crc
from hil.plant import ConnectorPlant
from hil.sim.io_board import IoBoardSim
from hil.wires.can import RigCanBus
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(20)

DB = load_dbc("io_board")
COMMAND = DB.get_message_by_name("IoCommand")
STATUS = DB.get_message_by_name("IoStatus")
MEASURE = DB.get_message_by_name("IoDcMeasure")
TEMPS = DB.get_message_by_name("IoTemperatures")
CONNECTOR = 1


class SimBench:
    """The simulator on one virtual bus; a raw bus on the same channel plays the controller."""

    def __init__(self, clock=None, **kwargs) -> None:
        self.channel = f"iosim-{uuid.uuid4().hex}"
        self.port = RigCanBus(can.Bus(interface="virtual", channel=self.channel), "rig")
        self.ctrl_bus = can.Bus(interface="virtual", channel=self.channel)
        self.plant = ConnectorPlant(connector_id=CONNECTOR)
        self.clock = clock or FakeClock(50.0)
        self.sim = IoBoardSim(self.port, self.plant, clock=self.clock, **kwargs)
        self.sim.attach()
        self.counter = 0

    def command(self, *, duty=0.0, state_f=0, close=0, lock=0, counter=None, reset=0, max_v=500.0,
                crc_error=False) -> None:
        """One command frame as the controller's driver builds it (CRC over data id + bytes 1..7)."""
        if counter is None:
            self.counter = (self.counter + 1) & 0xFF
            counter = self.counter
        values = {"Crc": 0, "CpDuty": duty, "RequestStateF": state_f, "DcPlusClose": close, "DcMinusClose": close,
                  "LockRequest": lock, "HeartbeatCounter": counter, "ResetRequest": reset, "MaxVoltage": max_v}
        values["Crc"] = e2e_crc(COMMAND.frame_id + CONNECTOR, COMMAND.encode(values)[1:]) ^ int(crc_error)
        self.raw(COMMAND, COMMAND.encode(values))

    def ticks(self, seconds: float, step: float = 0.02) -> None:
        """Run the simulator's period for `seconds` of the fake clock, one tick per `step`."""
        for _ in range(round(seconds / step)):
            self.clock.now += step
            self.sim.tick()

    def raw(self, message, data: bytes) -> None:
        self.port.dispatch(can.Message(arbitration_id=message.frame_id + CONNECTOR, data=data,
                                       is_extended_id=False))

    def frames(self, message) -> list[dict]:
        """Frames of `message` the simulator sent since the last call (others are dropped)."""
        out = []
        while (msg := self.ctrl_bus.recv(timeout=0)) is not None:
            if msg.arbitration_id == message.frame_id + CONNECTOR:
                out.append(message.decode(msg.data))
        return out

    def status(self) -> dict:
        self.frames(STATUS)
        self.sim.send_status()
        return self.frames(STATUS)[-1]

    def close(self) -> None:
        self.port.close()
        self.ctrl_bus.shutdown()


@pytest.fixture
def bench():
    b = SimBench(contactor_delay_s=0.0)
    yield b
    b.close()


@pytest.mark.parametrize("ev, duty, state, high, low, measured", [
    ("A", 100.0, "A", 12.0, 12.0, 100.0),
    ("A", 0.0, "A", 12.0, 12.0, 100.0),  # PWM off is a static +12 V, not -12 V
    ("B", 100.0, "B", 9.0, 9.0, 100.0),
    ("B", 5.0, "B", 9.0, -12.0, 5.0),
    ("C", 5.0, "C", 6.0, -12.0, 5.0),
    ("D", 5.0, "D", 3.0, -12.0, 5.0),
    ("E", 5.0, "E", 0.0, 0.0, 5.0),
])
def test_cp_levels_follow_the_car_and_the_pwm(bench, ev, duty, state, high, low, measured):
    bench.plant.ev_cp_state = ev
    bench.command(duty=duty)
    st = bench.status()
    assert (st["CpState"], st["CpHighVoltage"], st["CpLowVoltage"], st["CpDutyMeasured"]) == \
        (state, high, low, measured)
    assert st["ProximityState"] == ("NOT_CONNECTED" if ev == "A" else "CONNECTED")
    assert bench.sim.cp_state == state and bench.sim.commanded_duty == duty


def test_state_f_request_drives_minus_12_volt(bench):
    bench.plant.ev_cp_state = "C"
    bench.command(duty=5.0, state_f=1)
    st = bench.status()
    assert (st["CpState"], st["CpHighVoltage"], st["CpLowVoltage"]) == ("F", -12.0, -12.0)


def test_status_goes_out_at_once_on_change_with_the_echo(bench):
    bench.command(lock=1, counter=17)
    (st,) = bench.frames(STATUS)
    assert (st["LockState"], st["HeartbeatEcho"]) == ("LOCKED", 17)
    bench.command(lock=1, counter=18)  # only the echo changed: no extra frame
    assert bench.frames(STATUS) == []


def test_contactors_follow_commands_after_the_delay():
    bench = SimBench(contactor_delay_s=0.02)

    async def main() -> list[tuple[bool, bool]]:
        bench.port.start(asyncio.get_running_loop())
        bench.command(close=1)
        seen = [(bench.plant.dc_plus_closed, bench.plant.dc_minus_closed)]
        while not bench.plant.contactors_closed:
            await asyncio.sleep(0.005)
        seen.append((bench.plant.dc_plus_closed, bench.plant.dc_minus_closed))
        return seen
    try:
        assert asyncio.run(asyncio.wait_for(main(), 5)) == [(False, False), (True, True)]
        st = bench.frames(STATUS)[-1]
        assert (st["DcPlusClosed"], st["DcMinusClosed"]) == (1, 1)  # the feedback went out on the change
    finally:
        bench.close()


def test_heartbeat_watchdog_trips_after_300_ms_and_holds_until_the_reset_sequence(bench):
    """Finding 15: a fresh heartbeat used to clear the trip, and the next frame closed the contactors again."""
    bench.plant.ev_cp_state = "C"
    bench.command(close=1, duty=5.0, counter=10)
    bench.command(close=1, duty=5.0, counter=11)
    assert bench.plant.contactors_closed
    bench.ticks(0.1)
    bench.command(close=1, duty=5.0, counter=11)  # a repeated counter is no heartbeat
    bench.ticks(0.18)
    assert not bench.sim.watchdog_tripped and bench.plant.contactors_closed
    bench.ticks(0.04)  # 300 ms from the last accepted command, give or take one 20 ms period
    assert bench.sim.watchdog_tripped and bench.sim.cp_state == "F"
    assert not bench.plant.dc_plus_closed and not bench.plant.dc_minus_closed
    st = bench.status()
    assert (st["WatchdogTripped"], st["TripCause"], st["CpState"], st["DcPlusClosed"]) == (1, "HEARTBEAT_LOST", "F", 0)
    for counter in range(12, 20):  # fresh heartbeats: the board stays tripped and open
        bench.command(close=1, duty=5.0, counter=counter)
    assert bench.sim.watchdog_tripped and not bench.plant.contactors_closed
    bench.command(close=0, duty=5.0, reset=1)  # counter resynchronised above; 20, 21 ...
    bench.command(close=0, duty=5.0, reset=1, counter=21)
    bench.command(close=0, duty=5.0, reset=0, counter=22)  # the sequence must be unbroken
    bench.command(close=0, duty=5.0, reset=1, counter=23)
    bench.command(close=0, duty=5.0, reset=1, counter=24)
    assert bench.sim.watchdog_tripped
    bench.command(close=0, duty=5.0, reset=1, counter=25)
    assert not bench.sim.watchdog_tripped and bench.status()["CpState"] == "C"
    bench.command(close=1, duty=5.0, counter=26)
    assert bench.plant.contactors_closed


def test_a_reset_request_with_a_close_request_is_no_reset(bench):
    bench.command(close=1)
    bench.ticks(0.32)
    assert bench.sim.trip_cause == "HEARTBEAT_LOST"
    for _ in range(5):
        bench.command(close=1, reset=1)
    assert bench.sim.watchdog_tripped and not bench.plant.contactors_closed


def test_watchdog_is_armed_by_the_first_command(bench):
    bench.clock.now += 10.0
    bench.sim.tick()
    assert not bench.sim.watchdog_tripped


def test_watchdog_counts_only_time_the_simulator_itself_ran(bench):
    """A rig process that was not scheduled for a second must not trip on the commands waiting in its queue."""
    bench.command(close=1)
    bench.sim.tick()
    bench.clock.now += 1.0  # a stall: no tick, no receive
    bench.sim.tick()
    assert not bench.sim.watchdog_tripped
    bench.command(close=1)  # what was waiting in the queue
    bench.ticks(0.26)
    assert not bench.sim.watchdog_tripped and bench.plant.contactors_closed
    bench.ticks(0.04)  # silence while it runs on time trips as before
    assert bench.sim.watchdog_tripped


def test_a_starved_rig_whose_ticks_come_late_does_not_trip_between_commands(bench):
    """Seen under stress-ng: the board sim got three or four late turns (60-250 ms apart) for each of the controller's
    commands; a late tick counts as two status periods at most."""
    for _ in range(20):
        bench.command(close=1)
        for late in (0.063, 0.109, 0.252, 0.12):
            bench.clock.now += late
            bench.sim.tick()
    assert not bench.sim.watchdog_tripped and bench.plant.contactors_closed


@pytest.mark.parametrize("first, second, accepted", [(7, 8, True), (7, 9, True), (7, 7, False), (7, 10, False),
                                                      (255, 0, True), (255, 1, True)])
def test_alive_counter_steps(bench, first, second, accepted):
    bench.command(counter=first, lock=0)
    bench.command(counter=second, lock=1)
    assert bench.status()["LockState"] == \
        ("LOCKED" if accepted else "UNLOCKED")
    assert bench.sim.rejected_commands == (0 if accepted else 1)


def test_bad_crc_is_rejected_and_three_in_eight_trip(bench):
    bench.plant.ev_cp_state = "C"
    bench.command(close=1)
    assert bench.plant.contactors_closed
    bench.command(close=1, lock=1, crc_error=True)
    assert bench.sim.rejected_commands == 1 and bench.status()["LockState"] == "UNLOCKED"
    for _ in range(4):
        bench.command(close=1)
    bench.command(close=1, crc_error=True)
    assert not bench.sim.watchdog_tripped
    bench.command(close=1, counter=bench.counter - 1)  # repeats the last accepted: third rejected of eight
    assert bench.sim.trip_cause == "COMMANDS_REJECTED" and not bench.plant.contactors_closed
    assert bench.status()["TripCause"] == "COMMANDS_REJECTED"


def test_a_frame_meant_for_another_connector_fails_the_crc(bench):
    values = {"Crc": 0, "CpDuty": 0.0, "RequestStateF": 0, "DcPlusClose": 1, "DcMinusClose": 1, "LockRequest": 0,
              "HeartbeatCounter": 1, "ResetRequest": 0, "MaxVoltage": 500.0}
    values["Crc"] = e2e_crc(COMMAND.frame_id + CONNECTOR + 1, COMMAND.encode(values)[1:])
    bench.raw(COMMAND, COMMAND.encode(values))
    assert bench.sim.rejected_commands == 1 and not bench.plant.contactors_closed


def test_closing_is_refused_until_a_maximum_voltage_is_programmed(bench):
    bench.command(close=1, max_v=0.0)
    assert not bench.plant.contactors_closed
    bench.command(close=1, max_v=450.0)
    assert bench.plant.contactors_closed and bench.sim.max_voltage_v == 450.0
    bench.command(close=1, max_v=0.0)  # the maximum withdrawn: nothing stays closed
    assert not bench.plant.contactors_closed


def test_cable_voltage_above_the_maximum_trips_the_board(bench):
    bench.plant.ev_cp_state = "C"
    bench.command(close=1, max_v=450.0)
    bench.plant.cable_voltage_v = 449.9
    bench.ticks(0.1)
    assert bench.plant.contactors_closed
    bench.plant.cable_voltage_v = 451.0
    bench.ticks(0.02)
    assert bench.plant.contactors_closed  # one sample is no trip
    bench.plant.cable_voltage_v = 449.0
    bench.ticks(0.02)
    bench.plant.cable_voltage_v = 451.0
    bench.ticks(0.04)
    assert bench.sim.trip_cause == "OVERVOLTAGE" and not bench.plant.contactors_closed
    assert bench.status()["TripCause"] == "OVERVOLTAGE"


@pytest.mark.parametrize("new_cp", ["B", "A", "E"])
def test_cp_leaving_c_opens_the_contactors_at_the_next_sample_without_a_trip(bench, new_cp):
    bench.plant.ev_cp_state = "C"
    bench.command(close=1, duty=5.0)
    bench.sim.tick()
    assert bench.plant.contactors_closed
    bench.plant.ev_cp_state = new_cp
    bench.clock.now += 0.02
    bench.sim.tick()  # one 20 ms sample: well inside IEC 61851-1's 100 ms
    assert not bench.plant.contactors_closed and not bench.sim.watchdog_tripped
    bench.plant.ev_cp_state = "C"
    bench.command(close=1, duty=5.0)
    assert not bench.plant.contactors_closed  # not again without an open command first
    bench.command(close=0, duty=5.0)
    bench.command(close=1, duty=5.0)
    assert bench.plant.contactors_closed


def test_estop_opens_the_contactors_itself(bench):
    bench.command(close=1)
    assert bench.plant.contactors_closed
    bench.frames(STATUS)
    bench.sim.press_estop()
    assert not bench.plant.dc_plus_closed and not bench.plant.dc_minus_closed
    (st,) = bench.frames(STATUS)  # reported at once, not at the next period
    assert (st["Estop"], st["DcPlusClosed"], st["DcMinusClosed"]) == (1, 0, 0)
    bench.command(close=1)
    assert not bench.plant.contactors_closed  # held open while pressed
    bench.sim.release_estop()
    assert bench.status()["Estop"] == 0 and not bench.plant.contactors_closed
    bench.command(close=1)
    assert not bench.plant.contactors_closed  # a close request held through the e-stop does not count
    bench.command(close=0)
    bench.command(close=1)
    assert bench.plant.contactors_closed


def _drain_ids(bench: SimBench) -> list[int]:
    ids = []
    while (m := bench.ctrl_bus.recv(timeout=0)) is not None:
        ids.append(m.arbitration_id - CONNECTOR)
    return sorted(ids)


def test_periodic_frames_and_cable_voltage(bench):
    bench.plant.cable_voltage_v = 399.9
    bench.sim.tick()
    assert _drain_ids(bench) == [STATUS.frame_id, MEASURE.frame_id, TEMPS.frame_id]
    bench.clock.now += 0.02
    bench.sim.tick()
    assert _drain_ids(bench) == [STATUS.frame_id, MEASURE.frame_id]  # temperatures only once a second
    bench.plant.output_current_a = 523.4
    bench.sim.tick()
    assert bench.frames(MEASURE)[-1]["CableVoltage"] == pytest.approx(399.9)
    bench.sim.tick()
    assert bench.frames(MEASURE)[-1]["CableCurrent"] == pytest.approx(523.4)
    bench.clock.now += 1.0
    bench.sim.tick()
    assert len(bench.frames(TEMPS)) == 1


def test_thermal_model_and_injected_offset(bench):
    bench.sim.tick()
    assert bench.sim.temperatures_c() == (25.0, 25.0, 25.0)
    bench.plant.output_current_a = 200.0
    for _ in range(600):  # 5 minutes at 0.5 s steps, ten time constants
        bench.clock.now += 0.5
        bench.sim.tick()
    plus, minus, cable = bench.sim.temperatures_c()
    assert plus == pytest.approx(25.0 + 24.0, abs=0.1) and cable == pytest.approx(25.0 + 16.0, abs=0.1)
    bench.frames(TEMPS)
    bench.sim.inject_temperature_c(50.0)
    (t,) = bench.frames(TEMPS)  # sent at once, not at the next 1 s slot
    assert t["TempDcPlus"] == pytest.approx(99.0, abs=0.15) and t["TempCable"] == pytest.approx(91.0, abs=0.15)
    bench.sim.inject_temperature_c(500.0)
    assert bench.frames(TEMPS)[-1]["TempDcPlus"] == 250.0  # saturates at the DBC range


def test_connector_id_outside_the_dbc_range_is_refused(bench):
    with pytest.raises(ValueError, match="connector_id 16"):
        IoBoardSim(bench.port, ConnectorPlant(connector_id=16))


@pytest.mark.parametrize("data, reason", [
    (bytes(7), "DLC 7"),
    (bytes([0, 1, 0xFF, 0x07, 0, 0, 0, 0]), "CpDuty 204.7"),
])
def test_bad_commands_are_rejected(bench, data, reason):
    bench.raw(COMMAND, data)
    assert bench.port.rejected == 1
    assert any(reason in r for r in bench.port.rejected_reasons)
    assert bench.sim.commands_received == 0


# ---- driver and simulator together on one virtual channel ---------------------------------------------------

class Pair:
    def __init__(self, **sim_kwargs) -> None:
        channel = f"iopair-{uuid.uuid4().hex}"
        self.ctrl_port = CanPort(can.Bus(interface="virtual", channel=channel), "controller")
        self.rig_port = RigCanBus(can.Bus(interface="virtual", channel=channel), "rig")
        self.plant = ConnectorPlant(connector_id=CONNECTOR)
        self.sim = IoBoardSim(self.rig_port, self.plant, **sim_kwargs)
        self.cp_seen: list[str] = []
        self.faults: list[tuple[str, bool]] = []
        self.board = IoBoard(self.ctrl_port, CONNECTOR, on_status=self._on_status, on_fault=self._on_fault)
        self.sim.attach()
        self.board.attach()
        self.on_fault_hook = None

    def _on_status(self, status) -> None:
        if not self.cp_seen or self.cp_seen[-1] != status.cp_state:
            self.cp_seen.append(status.cp_state)

    def _on_fault(self, code: str, detail: str, active: bool) -> None:
        self.faults.append((code, active))
        if self.on_fault_hook:
            self.on_fault_hook(code, active)

    async def start(self) -> tuple[asyncio.Task, asyncio.Task]:
        loop = asyncio.get_running_loop()
        self.ctrl_port.start(loop)
        self.rig_port.start(loop)
        return asyncio.create_task(self.board.run()), asyncio.create_task(self.sim.run())

    async def stop(self, *tasks: asyncio.Task) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.ctrl_port.close()
        self.rig_port.close()


async def eventually(condition, timeout_s: float = 3.0) -> bool:
    """Poll until `condition()` holds; the deadline is generous and only guards against a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def test_session_walk_cp_transitions_and_contactors():
    pair = Pair()

    async def main() -> None:
        tasks = await pair.start()
        try:
            assert await eventually(lambda: pair.board.online and pair.cp_seen == ["A"])
            pair.plant.ev_cp_state = "B"
            assert await eventually(lambda: pair.cp_seen[-1] == "B")
            pair.board.set_pwm(5)
            assert await eventually(lambda: pair.board.status.cp_low_v == -12.0)
            assert pair.board.status.cp_duty_measured == 5.0
            pair.plant.ev_cp_state = "C"
            assert await eventually(lambda: pair.cp_seen[-1] == "C")
            pair.board.set_max_voltage(450.0)
            pair.board.close_contactors()
            assert await eventually(lambda: pair.board.contactors_closed)
            assert pair.plant.contactors_closed
            pair.plant.cable_voltage_v = 380.0
            pair.plant.output_current_a = 150.5
            assert await eventually(lambda: pair.board.status.cable_voltage_v == 380.0)
            assert await eventually(lambda: pair.board.status.cable_current_a == 150.5)
            pair.board.open_contactors()
            assert await eventually(lambda: pair.board.contactors_open)
            pair.plant.ev_cp_state = "A"
            assert await eventually(lambda: pair.cp_seen[-1] == "A")
        finally:
            await pair.stop(*tasks)
    asyncio.run(main())
    assert pair.cp_seen == ["A", "B", "C", "A"]
    assert pair.faults == []


def test_estop_reaches_the_driver_and_the_contactors_open():
    pair = Pair()
    reactions: list[bool] = []
    # what the connector would do in the same call: note whether the board already opened them
    pair.on_fault_hook = lambda code, active: reactions.append(pair.plant.contactors_closed)

    async def main() -> None:
        tasks = await pair.start()
        try:
            pair.plant.ev_cp_state = "C"
            pair.board.set_max_voltage(450.0)
            pair.board.close_contactors()
            assert await eventually(lambda: pair.board.contactors_closed)
            pair.sim.press_estop()
            assert not pair.plant.contactors_closed
            assert await eventually(lambda: ("ESTOP_PRESSED", True) in pair.faults)
            assert pair.board.status.estop and pair.board.contactors_open
            pair.sim.release_estop()
            assert await eventually(lambda: ("ESTOP_PRESSED", False) in pair.faults)
        finally:
            await pair.stop(*tasks)
    asyncio.run(main())
    assert pair.faults == [("ESTOP_PRESSED", True), ("ESTOP_PRESSED", False)]
    assert reactions == [False, False]


def test_controller_heartbeat_lost_board_opens_contactors_and_shows_f():
    pair = Pair()  # default 300 ms watchdog

    async def main() -> None:
        driver_task, sim_task = await pair.start()
        try:
            pair.plant.ev_cp_state = "C"
            pair.board.set_pwm(5)
            pair.board.set_max_voltage(450.0)
            pair.board.close_contactors()
            assert await eventually(lambda: pair.board.contactors_closed)
            driver_task.cancel()  # the controller stops sending; its receive path still runs
            await asyncio.gather(driver_task, return_exceptions=True)
            assert await eventually(lambda: pair.sim.watchdog_tripped)
            assert not pair.plant.dc_plus_closed and not pair.plant.dc_minus_closed
            assert pair.sim.cp_state == "F"
            assert await eventually(lambda: ("IO_WATCHDOG_TRIPPED", True) in pair.faults)
            assert pair.board.status.cp_state == "F" and pair.board.contactors_open
            driver_task = asyncio.create_task(pair.board.run())  # controller back, still asking closed
            await asyncio.sleep(0.3)
            assert pair.sim.watchdog_tripped and not pair.plant.contactors_closed  # no reset while asking closed
            pair.board.open_contactors()  # the driver now sends the reset sequence by itself
            assert await eventually(lambda: ("IO_WATCHDOG_TRIPPED", False) in pair.faults)
            pair.board.set_max_voltage(450.0)
            pair.board.close_contactors()
            assert await eventually(lambda: pair.board.contactors_closed)
        finally:
            await pair.stop(driver_task, sim_task)
    asyncio.run(main())
    assert pair.cp_seen[-2:] == ["F", "C"]
    assert ("IO_BOARD_LOST", True) not in pair.faults  # the echo followed throughout


def test_board_overvoltage_trip_reaches_the_driver_and_a_reset_needs_the_contactors_open():
    pair = Pair()

    async def main() -> None:
        tasks = await pair.start()
        try:
            pair.plant.ev_cp_state = "C"
            pair.board.set_max_voltage(450.0)
            pair.board.close_contactors()
            assert await eventually(lambda: pair.board.contactors_closed)
            pair.plant.cable_voltage_v = 470.0
            assert await eventually(lambda: ("IO_BOARD_OVERVOLTAGE_TRIP", True) in pair.faults)
            assert not pair.plant.contactors_closed and pair.board.status.trip_cause == "OVERVOLTAGE"
            pair.plant.cable_voltage_v = 0.0
            await asyncio.sleep(0.2)
            assert pair.sim.watchdog_tripped  # still asked closed: no reset
            pair.board.open_contactors()
            assert await eventually(lambda: ("IO_BOARD_OVERVOLTAGE_TRIP", False) in pair.faults)
            assert pair.board.max_voltage_v == 0.0
            pair.board.close_contactors()  # no maximum programmed since the open: the board refuses
            await asyncio.sleep(0.2)
            assert not pair.plant.contactors_closed
        finally:
            await pair.stop(*tasks)
    asyncio.run(main())
    assert ("IO_WATCHDOG_TRIPPED", True) not in pair.faults


def test_board_silence_reported_by_the_driver():
    pair = Pair()

    async def main() -> None:
        driver_task, sim_task = await pair.start()
        try:
            assert await eventually(lambda: pair.board.online)
            sim_task.cancel()
            assert await eventually(lambda: ("IO_BOARD_LOST", True) in pair.faults)
            assert not pair.board.online
        finally:
            await pair.stop(driver_task, sim_task)
    asyncio.run(main())
    assert pair.faults == [("IO_BOARD_LOST", True)]
