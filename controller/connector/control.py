"""The timed part of a connector: precharge, current ramp, power-down, supervision and timeouts.

`tick()` runs every control period from the connector's task; everything here only sets module
setpoints and contactor commands through the drivers, which send at once. The cable check is in
cable_check.py. Every value of one session starts from `reset_control()`: nothing of a previous car's
session (its target voltage above all) can reach the next one.
"""
from __future__ import annotations

import math

from controller.connector.table import SESSION_STATES

EV_SEQUENCE_TIMEOUT_S = 60.0  # V2G_SECC_Sequence_Timeout
USER_STOP_GRACE_S = 5.0  # the car must answer StopCharging with PowerDelivery(stop) within this
IMD_SUPERVISED_STATES = ("precharge", "charging")
# an IMD reads invalid while it tests itself (a few seconds); invalid for longer in the self-test means a
# resistance channel stuck at invalid, which may never show "test done" either
SELF_TEST_INVALID_S = 10.0


class ControlLoop:
    def __init__(self) -> None:
        self._last_tick_t: float | None = None
        self.reset_control()

    def reset_control(self) -> None:
        """Every per-session value of the control loop back to its start (session start, new phases)."""
        self.cable_check.reset()
        self.charge_control.reset()
        self.power_down.reset()
        self._imd_invalid_since: float | None = None
        self.finish_after_stop = False

    # ---- measurements --------------------------------------------------------------------------------
    def io_contactors_closed(self) -> bool:
        st = self.io.status
        return bool(st and st.dc_plus_closed and st.dc_minus_closed)

    def io_contactors_open(self) -> bool:
        st = self.io.status
        return bool(st and not st.dc_plus_closed and not st.dc_minus_closed)

    def measured_output_current(self, now: float) -> tuple[float, float | None]:
        """The output current and when it was measured (None: unknown age).

        The I/O board's cable current when it reports one (measured on the cable, fast); else the modules'
        telemetry, as old as its oldest answering module."""
        st = self.io.status
        cable = getattr(st, "cable_current_a", None) if st is not None else None
        if cable is not None and math.isfinite(cable):
            return abs(cable), getattr(st, "measure_t", None) or getattr(st, "t", None)
        ages = [m["last_seen_age_s"] for m in self.group.module_states()
                if m.get("state") != "lost" and m.get("last_seen_age_s") is not None]
        return abs(self.group.output_current_a), (now - max(ages)) if ages else None

    # ---- power down ----------------------------------------------------------------------------------
    def begin_power_down(self, kind: str) -> None:
        """Current to zero at once, and the power-down sequence (power_down.py) from there."""
        self.power_down.begin(kind, self.charge_control.current_to_zero())

    def _output_safe(self) -> None:
        """The power-down sequence ended with the contactors open."""
        self.fire("output_safe")
        if self.finish_after_stop and self.state == "welding_detection":
            self.finish_after_stop = False
            self.fire("ev_session_stop")

    # ---- the periodic tick ---------------------------------------------------------------------------
    def state_elapsed(self, now: float) -> float:
        return now - self.state_entered_t

    def tick(self) -> None:
        with self.power_path("control tick"):
            self._tick()

    def _tick(self) -> None:
        now = self.clock()
        dt = 0.0 if self._last_tick_t is None else min(0.5, now - self._last_tick_t)
        self._last_tick_t = now
        self.supervisor.tick(now)  # measurements that stopped arriving
        state = self.state
        if state == "unavailable":
            if self.can_offer_service():
                self.fire("board_ready")
        elif state == "emergency":
            if self.state_elapsed(now) >= self.charging.emergency_f_hold_s and self._state_f_requested \
                    and not self._cp_loss_fault_active():
                self._set_state_f(False)
                self.io.set_pwm(100.0)
            self.try_recover()
        elif state == "plugged":
            self._restart_tick(now)
        elif state == "cable_check":
            self.cable_check.tick(now)
        elif state == "precharge":
            self.charge_control.precharge_tick(now)
        elif state == "charging":
            self.charge_control.charging_tick(now, dt)
        elif state in ("stopping", "error_shutdown"):
            self.power_down.tick(now)
        self._supervise_lock_and_imd(now)
        self.check_weld()
        self.unlock_when_safe()
        if self.state in SESSION_STATES:
            self._check_ev_timeouts(now)
        if self.session is not None and self.state in ("precharge", "charging", "stopping"):
            self.session.add_power(*self.supervisor.output_sample(), dt)  # volts and amps measured together
            if self.meter is not None:
                self._meter_session_tick()

    def _supervise_lock_and_imd(self, now: float) -> None:
        """While the cable may carry voltage: the lock stays locked and the IMD gives valid readings."""
        energized = self.state in IMD_SUPERVISED_STATES or (self.state == "cable_check" and self.cable_check.step in (
            "close_contactors", "raise_voltage", "hold", "discharge"))
        if energized and self.lock_state() != "LOCKED":
            self.raise_fault("CONNECTOR_LOCK_FAILURE", f"lock reports {self.lock_state()} while energized")
        if self.imd is None:
            return
        reading = self.imd.latest
        valid = reading is not None and self.imd.fresh and reading.resistance_valid and not reading.device_error
        if valid and "IMD_INVALID" in self.active_faults:
            self.clear_fault("IMD_INVALID")  # clears by itself, as the catalogue says ("auto")
        # the cable check counts in every step; during the self-test the IMD reads invalid by design, so there
        # an invalid reading counts only beyond the time a self-test takes
        counted = self.state in IMD_SUPERVISED_STATES or (self.state == "cable_check" and self.cable_check.step != "done")
        bound = self.charging.imd_invalid_after_s
        if self.state == "cable_check" and self.cable_check.step == "imd_self_test":
            bound = max(bound, SELF_TEST_INVALID_S)
        if valid or not counted:
            self._imd_invalid_since = None
        elif self._imd_invalid_since is None:
            self._imd_invalid_since = now
        elif now - self._imd_invalid_since >= bound:
            self.raise_fault("IMD_INVALID", f"no valid insulation reading for {bound:g} s")

    def _cp_loss_fault_active(self) -> bool:
        return "IO_BOARD_LOST" in self.active_faults

    def _check_ev_timeouts(self, now: float) -> None:
        if self.last_ev_request_t is not None and now - self.last_ev_request_t > EV_SEQUENCE_TIMEOUT_S:
            self.raise_fault("EV_TIMEOUT", "no request within the sequence timeout")
        elif self.stop_requested_t is not None and now - self.stop_requested_t > USER_STOP_GRACE_S \
                and self.state in ("charging", "precharge"):
            self.raise_fault("EV_TIMEOUT", "car did not stop after StopCharging")
