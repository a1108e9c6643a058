"""The timed part of a connector: cable check, precharge, current ramp, power-down and timeouts.

`tick()` runs every control period from the connector's task; everything here only sets module
setpoints and contactor commands through the drivers, which send at once.
"""
from __future__ import annotations

import asyncio

from controller.connector.ev_session import CurrentDemand
from controller.connector.table import SESSION_STATES

EV_SEQUENCE_TIMEOUT_S = 60.0  # V2G_SECC_Sequence_Timeout
CURRENT_DEMAND_TIMEOUT_S = 5.0  # no CurrentDemand while energy flows: stop
USER_STOP_GRACE_S = 5.0  # the car must answer StopCharging with PowerDelivery(stop) within this
SETPOINT_INTERVAL_S = 0.1  # rising setpoints at 10 Hz: 2.5 A steps at 25 A/s


class ControlLoop:
    def __init__(self) -> None:
        self._cc_step = ""
        self._cc_step_t = 0.0
        self._cc_passed = False
        self._test_voltage_v = 0.0
        self._target_voltage_v = 0.0
        self._target_current_a = 0.0
        self._setpoint_current_a = 0.0
        self._applied: tuple[float, float] | None = None
        self._applied_t = 0.0
        self._down_t = 0.0
        self._down_step = ""
        self._last_tick_t: float | None = None
        self.finish_after_stop = False
        self._imd_test: asyncio.Task | None = None

    # ---- limits ------------------------------------------------------------------------------------
    def power_limit_w(self) -> float:
        limit = min(self.cfg.max_power_kw * 1000.0, self.group.capabilities.max_power_w)
        if self.ev_parameters and self.ev_parameters.max_power_w:
            limit = min(limit, self.ev_parameters.max_power_w)
        return limit

    def voltage_limit_v(self) -> float:
        limit = min(self.cfg.max_voltage_v, self.group.capabilities.max_voltage_v)
        if self.ev_parameters:
            limit = min(limit, self.ev_parameters.max_voltage_v)
        return limit

    def current_limit_a(self, voltage_v: float) -> tuple[float, str]:
        """The allowed current and what limits it: min(EV, cable, group, power / voltage)."""
        candidates = [(self.cfg.max_current_a, "current"), (self.group.capabilities.max_current_a, "current")]
        if self.ev_parameters:
            candidates.append((self.ev_parameters.max_current_a, "ev"))
        if voltage_v > 1.0:
            candidates.append((self.power_limit_w() / voltage_v, "power"))
        return min(candidates)

    # ---- cable check ---------------------------------------------------------------------------------
    def start_cable_check(self) -> None:
        ev_max = self.ev_parameters.max_voltage_v if self.ev_parameters else self.cfg.max_voltage_v
        evse_max = min(self.cfg.max_voltage_v, self.group.capabilities.max_voltage_v)
        # IEC 61851-23:2023 CC.4.1.2 test voltage (PROTOCOL-FACTS section 2)
        if ev_max <= 500.0:
            self._test_voltage_v = min(500.0, ev_max + 50.0, evse_max)
        else:
            self._test_voltage_v = min(evse_max, 1.1 * ev_max)
        self._cc_passed = False
        self._cc_enter("wait_safe_voltage")

    def cable_check_passed(self) -> bool:
        return self._cc_passed

    def _cc_enter(self, step: str) -> None:
        self._cc_step, self._cc_step_t = step, self.clock()

    def _cable_check_tick(self, now: float) -> None:
        cfg = self.charging
        elapsed = now - self._cc_step_t
        voltage = self.present_voltage()
        if self.state_elapsed(now) > cfg.cable_check_timeout_s and not self._cc_passed:
            self.raise_fault("CABLE_CHECK_FAILED", f"step {self._cc_step} timed out")
            return
        if self._cc_step == "wait_safe_voltage":
            if voltage < cfg.safe_voltage_v:
                if self.imd is not None:
                    self._imd_test = asyncio.get_running_loop().create_task(
                        self.imd.self_test(cfg.imd_self_test_timeout_s))
                    self._cc_enter("imd_self_test")
                else:
                    self.close_contactors()
                    self._cc_enter("close_contactors")
        elif self._cc_step == "imd_self_test":
            if self._imd_test.done():
                passed = not self._imd_test.cancelled() and self._imd_test.exception() is None \
                    and self._imd_test.result()
                if not passed:
                    self.raise_fault("IMD_SELFTEST_FAILED", "self-test failed in cable check")
                    return
                self.close_contactors()
                self._cc_enter("close_contactors")
        elif self._cc_step == "close_contactors":
            if self.io_contactors_closed():
                self.group.set_output(self._test_voltage_v, cfg.cable_check_max_current_a)
                self.group.switch_on()
                self._cc_enter("raise_voltage")
            elif elapsed > cfg.contactor_feedback_timeout_s:
                self.raise_fault("CONTACTOR_NOT_CLOSED", "no closed feedback in cable check")
        elif self._cc_step == "raise_voltage":
            if voltage >= 0.95 * self._test_voltage_v:
                if self.imd is not None:
                    self.imd.set_cable_check_mode(True)
                self._cc_enter("hold")
        elif self._cc_step == "hold":
            if voltage < 0.9 * self._test_voltage_v:
                self.raise_fault("CABLE_CHECK_FAILED", f"test voltage fell to {voltage:.0f} V")
            elif elapsed >= cfg.cable_check_hold_s and self._insulation_judged(now):
                self.group.switch_off()
                self._cc_enter("discharge")
        elif self._cc_step == "discharge":
            if voltage < cfg.safe_voltage_v:
                self._cc_passed = True
                self._cc_enter("done")

    def _insulation_judged(self, now: float) -> bool:
        """True once the IMD has read the cable at test voltage long enough (always true without an IMD).

        A reading below the fault threshold raises ISOLATION_FAULT in the IMD driver itself."""
        if self.imd is None:
            return True
        reading = self.imd.latest
        sampled = reading is not None and reading.t >= self._cc_step_t + self.charging.isolation_sample_s
        if sampled and reading.resistance_ohm < self.imd.cfg.fault_below_ohm:
            self.raise_fault("ISOLATION_FAULT", f"{reading.resistance_ohm / 1000:.0f} kohm in cable check")
            return False
        if sampled:
            self.imd.set_cable_check_mode(False)
        return sampled

    def io_contactors_closed(self) -> bool:
        st = self.io.status
        return bool(st and st.dc_plus_closed and st.dc_minus_closed)

    def io_contactors_open(self) -> bool:
        st = self.io.status
        return bool(st and not st.dc_plus_closed and not st.dc_minus_closed)

    # ---- precharge -----------------------------------------------------------------------------------
    def start_precharge(self) -> None:
        self._applied = None

    def apply_precharge(self, target_voltage_v: float, target_current_a: float) -> bool:
        if target_voltage_v > self.voltage_limit_v() or target_voltage_v < 0:
            return False
        current = min(max(0.0, target_current_a), self.charging.precharge_max_current_a)
        self._apply(target_voltage_v, current)
        if not self.group.is_on:
            self.group.switch_on()
        return True

    # ---- charging ------------------------------------------------------------------------------------
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

    def _charging_tick(self, now: float, dt: float) -> None:
        if self.last_ev_request_t is not None and now - self.last_ev_request_t > CURRENT_DEMAND_TIMEOUT_S:
            self.raise_fault("EV_TIMEOUT", "no CurrentDemand request")
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
    def begin_power_down(self) -> None:
        """Current to zero at once; modules off and contactors open when it is low (or after the timeout)."""
        self._setpoint_current_a = 0.0
        self._target_current_a = 0.0
        if self.group.is_on:
            self.group.set_output(self._target_voltage_v or self.present_voltage(), 0.0)
        self._applied = None
        self._down_step, self._down_t = "current_down", self.clock()

    def _power_down_tick(self, now: float) -> None:
        cfg = self.charging
        if self._down_step == "current_down":
            if abs(self.group.output_current_a) < cfg.stop_current_threshold_a \
                    or now - self._down_t >= cfg.stop_timeout_s:
                self.group.switch_off()
                self.open_contactors()
                self._down_step, self._down_t = "open_contactors", now
        elif self._down_step == "open_contactors":
            if self.io_contactors_open():
                self._down_step = "done"
                self.output_safe()
                if self.finish_after_stop and self.state == "welding_detection":
                    self.finish_after_stop = False
                    self.ev_session_stop()
            elif now - self._down_t > cfg.contactor_feedback_timeout_s:
                self.raise_fault("CONTACTOR_WELDED", "contactor feedback still closed after open command")

    # ---- the periodic tick ---------------------------------------------------------------------------
    def state_elapsed(self, now: float) -> float:
        return now - self.state_entered_t

    def tick(self) -> None:
        now = self.clock()
        dt = 0.0 if self._last_tick_t is None else min(0.5, now - self._last_tick_t)
        self._last_tick_t = now
        state = self.state
        if state == "unavailable":
            if self.can_offer_service():
                self.board_ready()
        elif state == "emergency":
            if self.state_elapsed(now) >= self.charging.emergency_f_hold_s and self._state_f_requested \
                    and not self._cp_loss_fault_active():
                self._set_state_f(False)
                self.io.set_pwm(100.0)
            self.try_recover()
        elif state == "plugged":
            self._restart_tick(now)
        elif state == "cable_check":
            self._cable_check_tick(now)
        elif state == "charging":
            self._charging_tick(now, dt)
        elif state in ("stopping", "error_shutdown"):
            self._power_down_tick(now)
        if self.state in SESSION_STATES:
            self._check_ev_timeouts(now)
        if self.session is not None and self.state in ("precharge", "charging", "stopping"):
            self.session.add_power(self.present_voltage(), self.group.output_current_a, dt)
            if self.meter is not None:
                self._meter_session_tick()

    def _cp_loss_fault_active(self) -> bool:
        return "IO_BOARD_LOST" in self.active_faults

    def _check_ev_timeouts(self, now: float) -> None:
        if self.last_ev_request_t is not None and now - self.last_ev_request_t > EV_SEQUENCE_TIMEOUT_S:
            self.raise_fault("EV_TIMEOUT", "no request within the sequence timeout")
        elif self.stop_requested_t is not None and now - self.stop_requested_t > USER_STOP_GRACE_S \
                and self.state in ("charging", "precharge"):
            self.raise_fault("EV_TIMEOUT", "car did not stop after StopCharging")
