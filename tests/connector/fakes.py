"""Stand-ins for the I/O board and module-group drivers, recording what the connector commands."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FakeStatus:
    cp_state: str = "A"
    cp_high_v: float = 12.0
    dc_plus_closed: bool = False
    dc_minus_closed: bool = False
    cable_voltage_v: float = 0.0
    estop: bool = False


@dataclass(frozen=True)
class FakeCaps:
    max_voltage_v: float = 1000.0
    min_voltage_v: float = 150.0
    max_current_a: float = 200.0
    max_power_w: float = 60_000.0
    healthy_count: int = 2
    total_count: int = 2


class FakeBoard:
    def __init__(self):
        self.online = True
        self.status = FakeStatus()
        self.log: list[tuple] = []
        self.pwm = 100.0
        self.state_f = False
        self.contactors_cmd = False
        self.locked = False

    def set_pwm(self, duty):
        self.pwm = duty
        self.log.append(("pwm", duty))

    def set_state_f(self, on):
        self.state_f = on
        self.log.append(("state_f", on))

    def close_contactors(self):
        self.contactors_cmd = True
        self.log.append(("close",))

    def open_contactors(self):
        self.contactors_cmd = False
        self.log.append(("open",))

    def set_lock(self, locked):
        self.locked = locked

    def apply_contactors(self):
        """What the real board does after its contactor delay."""
        self.status = replace(self.status, dc_plus_closed=self.contactors_cmd, dc_minus_closed=self.contactors_cmd)


class FakeGroup:
    def __init__(self):
        self.capabilities = FakeCaps()
        self.output_voltage_v = 0.0
        self.output_current_a = 0.0
        self.is_on = False
        self.setpoint = (0.0, 0.0)
        self.log: list[tuple] = []

    def set_output(self, v, a):
        self.setpoint = (v, a)
        self.log.append(("set", v, a))

    def switch_on(self):
        self.is_on = True
        self.log.append(("on",))

    def switch_off(self):
        self.is_on = False
        self.log.append(("off",))

    def emergency_off(self):
        self.is_on = False
        self.output_current_a = 0.0
        self.log.append(("emergency_off",))


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt
