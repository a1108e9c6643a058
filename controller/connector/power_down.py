"""The power-down sequence of a stop or an error shutdown, advanced by the connector's tick: current to zero at
once; modules off and contactors open once the measured current is low; then the output is safe.

kind "stop" (the car stopped) and "error" (error shutdown: the car must also have heard EVSE_Shutdown first)
wait at most power_down_timeout_s, then POWER_DOWN_FAILED (an emergency). "cp_b" (C->B, IEC 61851-1 Table A.6:
open within 100 ms) opens at stop_timeout_s whatever the current, as the standard asks.

It gets only what it needs from its connector: the drivers' commands and measurements, the fault report and one
callback for "the output is safe".
"""
from __future__ import annotations

from typing import Callable

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.ports import ModuleGroupPort


class PowerDown:
    def __init__(self, charging: ChargingConfig, group: ModuleGroupPort, *, clock: Callable[[], float],
                 measured_output_current: Callable[[float], tuple[float, float | None]],
                 contactors_open: Callable[[], bool], open_contactors: Callable[[], None],
                 raise_fault: Callable[[str, str], None], output_safe: Callable[[], None]):
        self.charging = charging
        self.group = group
        self.clock = clock
        self._measured_output_current = measured_output_current  # (amps, measured at; None: unknown age)
        self._contactors_open = contactors_open  # the board's feedback: both poles open
        self._open_contactors = open_contactors
        self._raise_fault = raise_fault
        self._output_safe = output_safe
        self.reset()

    def reset(self) -> None:
        self.step = ""  # "", "current_down", "open_contactors", "done"
        self.kind = ""
        self._t = 0.0
        self._deadline_t = 0.0
        self._car_told_t: float | None = None

    def begin(self, kind: str, hold_voltage_v: float) -> None:
        """Current to zero at `hold_voltage_v` now; the rest follows from tick()."""
        now = self.clock()
        self.step, self._t, self.kind = "current_down", now, kind
        cfg = self.charging
        self._deadline_t = now + (cfg.stop_timeout_s if kind == "cp_b" else cfg.power_down_timeout_s)
        self._car_told_t = None
        if self.group.is_on:
            self.group.set_output(hold_voltage_v, 0.0)

    def cp_left_c(self) -> None:
        """C->B during a stop: the 100 ms bound of IEC 61851-1 applies from now."""
        if self.step == "current_down" and self.kind != "cp_b":
            self.kind = "cp_b"
            self._deadline_t = min(self._deadline_t, self.clock() + self.charging.stop_timeout_s)

    def note_car_told(self) -> None:
        """An answer carrying EVSE_Shutdown / StopCharging went to the car."""
        if self._car_told_t is None:
            self._car_told_t = self.clock()

    def tick(self, now: float) -> None:
        cfg = self.charging
        if self.step == "current_down":
            current, measured_t = self._measured_output_current(now)
            low = measured_t is not None and measured_t >= self._t and current < cfg.stop_current_threshold_a
            told = self.kind != "error" or self._car_told_t is not None or now - self._t >= cfg.error_notice_wait_s
            if (low and told) or (self.kind == "cp_b" and now >= self._deadline_t):
                self.group.switch_off()
                self._open_contactors()
                self.step, self._t = "open_contactors", now
            elif now >= self._deadline_t:
                self._raise_fault("POWER_DOWN_FAILED", f"{current:.1f} A measured after "
                                                       f"{cfg.power_down_timeout_s:g} s ({self.kind})")
        elif self.step == "open_contactors":
            if self._contactors_open():
                self.step = "done"
                self._output_safe()
            elif now - self._t > cfg.contactor_feedback_timeout_s:
                self._raise_fault("CONTACTOR_WELDED", "contactor feedback still closed after open command")
