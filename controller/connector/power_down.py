"""The power-down sequence of a stop or an error shutdown, advanced by the connector's tick: current to zero at
once; modules off and contactors open once the measured current is low; then the output is safe.

kind "stop" (the car stopped) first waits, at most LANDING_WAIT_S, while a power matrix contact is closing onto this
output (`group.contact_closing`): lowering the current moves the output's voltage (the battery's I x R), and a
contact landing on a moving voltage closes across it. An error shutdown and C->B never wait; when a contact is
still closing as the contactors open, the modules stay on (at no current, holding the bus) until it has landed,
at most LANDING_WAIT_S, and go off after the contactors.

kind "stop" and "error" (error shutdown: the car must also have heard EVSE_Shutdown first)
wait at most power_down_timeout_s, then POWER_DOWN_FAILED (an emergency). "cp_b" (C->B, IEC 61851-1 Table A.6:
open within 100 ms) opens at stop_timeout_s whatever the current, as the standard asks.

It gets only what it needs from its connector: the drivers' commands and measurements, the fault report and one
callback for "the output is safe".
"""
from __future__ import annotations

from typing import Callable

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.ports import ModuleGroupPort

LANDING_WAIT_S = 0.3  # a matrix contact's travel plus its command period, with margin (the move fails at 0.2 s)


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
        self.step = ""  # "", "await_landing", "current_down", "open_contactors", "done"
        self.kind = ""
        self._t = 0.0
        self._deadline_t = 0.0
        self._car_told_t: float | None = None
        self._hold_voltage_v = 0.0
        self._off_deferred_t: float | None = None  # the contactors opened with the modules left on for a landing

    def begin(self, kind: str, hold_voltage_v: float) -> None:
        """Current to zero at `hold_voltage_v` now (a stop: once a closing matrix contact landed); the rest follows
        from tick()."""
        now = self.clock()
        self.step, self._t, self.kind = "current_down", now, kind
        cfg = self.charging
        self._deadline_t = now + (cfg.stop_timeout_s if kind == "cp_b" else cfg.power_down_timeout_s)
        self._car_told_t = None
        self._hold_voltage_v = hold_voltage_v
        if kind == "stop" and self.group.contact_closing:
            self.step = "await_landing"
            return
        self._current_to_zero(now)

    def _current_to_zero(self, now: float) -> None:
        self.step, self._t = "current_down", now
        if self.group.is_on:
            self.group.set_output(self._hold_voltage_v, 0.0)

    def cp_left_c(self) -> None:
        """C->B during a stop: the 100 ms bound of IEC 61851-1 applies from now."""
        if self.step in ("await_landing", "current_down") and self.kind != "cp_b":
            self.kind = "cp_b"
            self._deadline_t = min(self._deadline_t, self.clock() + self.charging.stop_timeout_s)

    def note_car_told(self) -> None:
        """An answer carrying EVSE_Shutdown / StopCharging went to the car."""
        if self._car_told_t is None:
            self._car_told_t = self.clock()

    def tick(self, now: float) -> None:
        cfg = self.charging
        if self.step == "await_landing":
            if self.kind != "stop" or not self.group.contact_closing or now - self._t >= LANDING_WAIT_S:
                self._current_to_zero(now)
        if self.step == "current_down":
            current, measured_t = self._measured_output_current(now)
            low = measured_t is not None and measured_t >= self._t and current < cfg.stop_current_threshold_a
            told = self.kind != "error" or self._car_told_t is not None or now - self._t >= cfg.error_notice_wait_s
            if (low and told) or (self.kind == "cp_b" and now >= self._deadline_t):
                if self.group.contact_closing:
                    self._off_deferred_t = now
                else:
                    self.group.switch_off()
                self._open_contactors()
                self.step, self._t = "open_contactors", now
            elif now >= self._deadline_t:
                self._raise_fault("POWER_DOWN_FAILED", f"{current:.1f} A measured after "
                                                       f"{cfg.power_down_timeout_s:g} s ({self.kind})")
        elif self.step == "open_contactors":
            deferred = self._off_deferred_t
            if deferred is not None and (not self.group.contact_closing or now - deferred >= LANDING_WAIT_S):
                self.group.switch_off()
                self._off_deferred_t = None
            opened = self._contactors_open()
            if opened and self._off_deferred_t is None:
                self.step = "done"
                self._output_safe()
            elif not opened and now - self._t > cfg.contactor_feedback_timeout_s:
                self._raise_fault("CONTACTOR_WELDED", "contactor feedback still closed after open command")
