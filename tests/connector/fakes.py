"""Stand-ins for the I/O board, module-group and IMD drivers, recording what the connector commands.

Pass one list as `wire` to the board and the group to get a single ordered log of every command, as it would
go out on the wires: ("group", "emergency_off"), ("board", "open"), ...
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from controller.hw.imd import ImdReading


@dataclass(frozen=True)
class FakeStatus:
    cp_state: str = "A"
    cp_high_v: float = 12.0
    dc_plus_closed: bool = False
    dc_minus_closed: bool = False
    cable_voltage_v: float = 0.0
    estop: bool = False
    lock_state: str = "UNLOCKED"
    cable_current_a: float | None = None  # the board's own cable current (None: modules' telemetry is used)
    measure_t: float | None = None  # None: the fake does not stamp its DC measure (no staleness judged)


@dataclass(frozen=True)
class FakeCaps:
    max_voltage_v: float = 1000.0
    min_voltage_v: float = 150.0
    max_current_a: float = 200.0
    max_power_w: float = 60_000.0
    healthy_count: int = 2
    total_count: int = 2


class FakeBoard:
    def __init__(self, wire: list | None = None):
        self.online = True
        self.status = FakeStatus()
        self.log: list[tuple] = []
        self.wire = wire if wire is not None else []
        self.pwm = 100.0
        self.state_f = False
        self.contactors_cmd = False
        self.locked = False
        self.lock_works = True  # False: the lock never reports LOCKED
        self.contactors_close = True  # False: the contactors never close (coil supply or auxiliary contact lost)
        self.fail_next: dict[str, Exception] = {}  # command name -> exception raised once

    def _cmd(self, *entry):
        self.log.append(entry)
        self.wire.append(("board", *entry))
        error = self.fail_next.pop(entry[0], None)
        if error is not None:
            raise error

    def set_pwm(self, duty):
        self.pwm = duty
        self._cmd("pwm", duty)

    def set_state_f(self, on):
        self.state_f = on
        self._cmd("state_f", on)

    def close_contactors(self):
        self.contactors_cmd = True
        self._cmd("close")

    def open_contactors(self):
        self.contactors_cmd = False
        self._cmd("open")

    def set_max_voltage(self, volts):
        self.max_voltage_v = volts  # the I/O board's own over-voltage limit (not on the command log)

    def set_lock(self, locked):
        self.locked = locked
        self._cmd("lock", locked)

    def apply_contactors(self):
        """What the real board does after its contactor and lock delays."""
        lock = "LOCKED" if self.locked and self.lock_works else "UNLOCKED"
        closed = self.contactors_cmd and self.contactors_close
        self.status = replace(self.status, dc_plus_closed=closed, dc_minus_closed=closed,
                              lock_state=lock)

    # like the real board: every DC measure and temperature frame goes to the measurement listener
    def listen_measurements(self, listener):
        self.measure_listener = listener

    def measure(self, t, volts, amps=0.0):
        """One IoDcMeasure frame at clock time `t`."""
        self.status = replace(self.status, cable_voltage_v=volts, cable_current_a=amps, measure_t=t)
        if getattr(self, "measure_listener", None) is not None:
            self.measure_listener(self.status)

    def temperatures(self, t, plus, minus=30.0, cable=30.0):
        """One IoTemperatures frame at clock time `t` (the status must be an IoStatus: it has the fields)."""
        self.status = replace(self.status, temp_dc_plus_c=plus, temp_dc_minus_c=minus, temp_cable_c=cable, temps_t=t)
        if getattr(self, "measure_listener", None) is not None:
            self.measure_listener(self.status)


class FakeGroup:
    def __init__(self, wire: list | None = None):
        self.capabilities = FakeCaps()
        self.output_voltage_v = 0.0
        self.output_current_a = 0.0
        self.telemetry_age_s = 0.0  # how old the modules' current reading is
        self.is_on = False
        self.contact_closing = False
        self.setpoint = (0.0, 0.0)
        self.log: list[tuple] = []
        self.wire = wire if wire is not None else []
        self.fail_next: dict[str, Exception] = {}  # command name -> exception raised once

    def _cmd(self, *entry):
        self.log.append(entry)
        self.wire.append(("group", *entry))
        error = self.fail_next.pop(entry[0], None)
        if error is not None:
            raise error

    def module_states(self):
        return [{"address": 1, "state": "ok", "last_seen_age_s": self.telemetry_age_s}]

    # like the real group: every module answer goes to the telemetry listener
    def listen_telemetry(self, listener):
        self.telemetry_listener = listener

    def answer(self, t, volts, amps):
        """A module answer at clock time `t` with the group's output voltage and current."""
        self.output_voltage_v, self.output_current_a, self.voltage_t = volts, amps, t
        self.output_power_w = volts * amps
        if getattr(self, "telemetry_listener", None) is not None:
            self.telemetry_listener()

    def set_output(self, v, a):
        self._cmd("set", v, a)
        self.setpoint = (v, a)

    def switch_on(self):
        self._cmd("on")
        self.is_on = True

    def switch_off(self):
        self._cmd("off")
        self.is_on = False

    def emergency_off(self):
        self._cmd("emergency_off")
        self.is_on = False
        self.output_current_a = 0.0


class FakeImdConfig:
    fault_below_ohm = 100_000.0
    warning_below_ohm = 500_000.0


class FakeImd:
    """An IMD that reads the board's cable voltage at the present clock time, unless `frozen` holds a reading."""

    def __init__(self, board: FakeBoard, clock):
        self.cfg = FakeImdConfig()
        self.board, self.clock = board, clock
        self.resistance_ohm = 5e6
        self.valid = True
        self.device_error = False
        self.fresh = True
        self.frozen: ImdReading | None = None
        self.self_test_passes: bool | None = True  # None: the self-test never ends
        self.self_tests = 0
        self.self_test_result: bool | None = None
        self.cable_check_mode = False

    def begin_self_test(self, timeout_s):
        self.self_tests += 1
        self.self_test_result = self.self_test_passes

    def set_cable_check_mode(self, on):
        self.cable_check_mode = on

    @property
    def latest(self) -> ImdReading:
        if self.frozen is not None:
            return self.frozen
        return ImdReading(resistance_ohm=self.resistance_ohm, system_voltage_v=self.board.status.cable_voltage_v,
                          resistance_valid=self.valid, prewarning=False, alarm=False,
                          device_error=self.device_error, test_done=True, t=self.clock())
