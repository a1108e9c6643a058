"""The timed part of a connector: precharge, current ramp, power-down, supervision and timeouts.

`tick()` runs every control period from the connector's task; everything here only sets module
setpoints and contactor commands through the drivers, which send at once. The cable check is in
cable_check.py. Every value of one session starts from `reset_control()`: nothing of a previous car's
session (its target voltage above all) can reach the next one.
"""
from __future__ import annotations

import math

from controller.connector.ev_session import CurrentDemand
from controller.connector.table import SESSION_STATES

EV_SEQUENCE_TIMEOUT_S = 60.0  # V2G_SECC_Sequence_Timeout
USER_STOP_GRACE_S = 5.0  # the car must answer StopCharging with PowerDelivery(stop) within this
SETPOINT_INTERVAL_S = 0.1  # rising setpoints at 10 Hz: 2.5 A steps at 25 A/s
IMD_SUPERVISED_STATES = ("precharge", "charging")
# ISO 15118-2 / DIN 70121: the car sends the next PreChargeReq within its 2 s message timeout (V2G_EVCC_Msg_Timeout)
PRECHARGE_REQUEST_TIMEOUT_S = 2.0
# the output may leave the EV's precharge target (a slew after the car changed it) at most this long once it
# had reached it; longer is a precharge that no longer matches the battery
PRECHARGE_DEVIATION_S = 2.0
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
        self._target_voltage_v = 0.0
        self._target_current_a = 0.0
        self._setpoint_current_a = 0.0
        self._applied: tuple[float, float] | None = None
        self._applied_t = 0.0
        self._precharge_target_v: float | None = None
        self._precharge_reached = False
        self._precharge_off_target_since: float | None = None
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

    # ---- precharge -----------------------------------------------------------------------------------
    def start_precharge(self) -> None:
        self._applied = None
        if self._contactors_commanded:  # the cable check's test voltage is over: the session maximum again
            self.io.set_max_voltage(self.board_max_voltage_v())
        self._precharge_target_v = None
        self._precharge_reached = False
        self._precharge_off_target_since = None

    def apply_precharge(self, target_voltage_v: float, target_current_a: float) -> bool:
        if target_voltage_v > self.voltage_limit_v() or target_voltage_v < 0:
            return False
        if self._precharge_target_v is not None and target_voltage_v != self._precharge_target_v:
            self._precharge_off_target_since = None  # a new target: the output gets its time to follow
        self._precharge_target_v = target_voltage_v
        if not self.may_energize("precharge"):
            return True  # answered with the present voltage; the precharge bound ends a wait that never ends
        current = min(max(0.0, target_current_a), self.charging.precharge_max_current_a)
        self._apply(target_voltage_v, current)
        if not self.group.is_on:
            self.switch_on()
        return True

    def precharge_target_v(self) -> float | None:
        """The car's latest PreCharge target voltage (None before its first PreChargeReq)."""
        return self._precharge_target_v

    def precharge_reached(self) -> bool:
        """The output is within the tolerance of the EV's precharge target (measured now)."""
        target = self._precharge_target_v
        return target is not None and abs(self.present_voltage() - target) <= self.charging.precharge_tolerance_v

    def _precharge_tick(self, now: float) -> None:
        bound = self.charging.precharge_timeout_s
        live = self.group.is_on or self._contactors_commanded
        if live and self.last_ev_request_t is not None \
                and now - self.last_ev_request_t > PRECHARGE_REQUEST_TIMEOUT_S:
            self.raise_fault("EV_TIMEOUT", f"no PreCharge request for {PRECHARGE_REQUEST_TIMEOUT_S:g} s "
                                           "with the output live")
            return
        in_tolerance = self.precharge_reached()
        self._precharge_reached = self._precharge_reached or in_tolerance
        elapsed = self.state_elapsed(now)
        if self._precharge_reached and not in_tolerance:
            if self._precharge_off_target_since is None:
                self._precharge_off_target_since = now
        else:
            self._precharge_off_target_since = None
        off_target = self._precharge_off_target_since
        target = "none" if self._precharge_target_v is None else f"{self._precharge_target_v:.0f} V"
        if not self._precharge_reached and elapsed > bound:
            self.raise_fault("PRECHARGE_FAILED", f"output {self.present_voltage():.0f} V, EV target {target} "
                                                 f"after {bound:g} s")
        elif off_target is not None and now - off_target > PRECHARGE_DEVIATION_S:
            self.raise_fault("PRECHARGE_FAILED", f"output {self.present_voltage():.0f} V left the EV target "
                                                 f"{target} for {PRECHARGE_DEVIATION_S:g} s")
        elif elapsed > 2 * bound:
            self.raise_fault("PRECHARGE_FAILED", f"no PowerDelivery(start) within {2 * bound:g} s")

    # ---- charging ------------------------------------------------------------------------------------
    def start_charging(self) -> None:
        """The precharge -> charging handover: hold the present session's precharge voltage, no current,
        until the car's first CurrentDemand."""
        self._target_voltage_v = self._precharge_target_v if self._precharge_target_v is not None \
            else self.present_voltage()
        self._target_current_a = 0.0
        self._setpoint_current_a = 0.0
        self._applied = None

    def apply_current_demand(self, demand: CurrentDemand) -> dict:
        voltage = min(demand.target_voltage_v, self.voltage_limit_v())
        present = self.present_voltage()
        # the power limit applies at the voltage the battery actually holds, not at the CV target
        current_cap, limiter = self.current_limit_a(present if present > self.charging.safe_voltage_v else voltage)
        current = min(max(0.0, demand.target_current_a), current_cap)
        self._target_voltage_v = voltage
        self._target_current_a = current
        if current < self._setpoint_current_a:  # down at once, up by the ramp
            self._setpoint_current_a = current
            self._apply(voltage, current)
        clamped = demand.target_current_a > current_cap + 1e-6
        return {
            "current_limit_reached": clamped and limiter in ("current", "ev"),
            "power_limit_reached": clamped and limiter == "power",
            "voltage_limit_reached": demand.target_voltage_v > voltage + 1e-6,
        }

    def hold_current_at_zero(self) -> None:
        """An invalid request while energy flows: no current until a valid one."""
        self._target_current_a = self._setpoint_current_a = 0.0
        if self.group.is_on:
            self._apply(self._target_voltage_v or self.present_voltage(), 0.0)

    def _charging_tick(self, now: float, dt: float) -> None:
        silence = self.charging.current_demand_timeout_s
        if self.last_ev_request_t is not None and now - self.last_ev_request_t > silence:
            self.raise_fault("EV_TIMEOUT", f"no CurrentDemand request for {silence:g} s")
            return
        ramp = self.charging.ramp_up_a_per_s * dt
        self._setpoint_current_a = min(self._target_current_a, self._setpoint_current_a + ramp)
        self._apply(self._target_voltage_v, self._setpoint_current_a)

    def _apply(self, voltage_v: float, current_a: float) -> None:
        """Send new setpoints: a lower current at once; a rise at most every SETPOINT_INTERVAL_S, so a
        ramp does not fill the module bus (each setpoint is one frame and one answer per module)."""
        now = self.clock()
        if self._applied is not None:
            old_v, old_a = self._applied
            if abs(old_v - voltage_v) < 0.5 and abs(old_a - current_a) < 0.1:
                return
            if current_a >= old_a and now - self._applied_t < SETPOINT_INTERVAL_S:
                return
        self._applied, self._applied_t = (voltage_v, current_a), now
        self.group.set_output(voltage_v, current_a)

    # ---- power down ----------------------------------------------------------------------------------
    def begin_power_down(self, kind: str) -> None:
        """Current to zero at once, and the power-down sequence (power_down.py) from there."""
        self._setpoint_current_a = 0.0
        self._target_current_a = 0.0
        self._applied = None
        self.power_down.begin(kind, self._target_voltage_v or self.present_voltage())

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
            self._precharge_tick(now)
        elif state == "charging":
            self._charging_tick(now, dt)
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
