"""The cable check of a DC connector (IEC 61851-23:2023 CC.4.1.2, PROTOCOL-FACTS section 2), advanced by `tick()`.

Steps: wait until the output is below 60 V, the lock reports LOCKED and the car shows CP C; the IMD's self-test
(bounded by its own timeout); contactors closed; test voltage at <= 2 A; hold while the IMD reads the insulation
at that voltage; discharge below 60 V. The cable check timeout runs from the end of the self-test, so a slow
self-test does not eat the time for the test itself.

Only a valid IMD reading judges the insulation: valid range, no device error, taken after the test voltage was
reached plus `isolation_sample_s`, and with the IMD's own system voltage near the test voltage.
"""
from __future__ import annotations

SELF_TEST_MARGIN_S = 2.0  # the driver ends a self-test at its timeout; this only guards a driver that never does
SYSTEM_VOLTAGE_SHARE = 0.9  # the IMD must see at least this share of the test voltage for its reading to count


class CableCheck:
    def reset_cable_check(self) -> None:
        self._cc_step = ""
        self._cc_step_t = 0.0
        self._cc_start_t = 0.0
        self._cc_deadline_t = 0.0
        self._cc_passed = False
        self._test_voltage_v = 0.0
        self._test_reached_t: float | None = None

    def start_cable_check(self) -> None:
        ev_max = self.ev_parameters.max_voltage_v if self.ev_parameters else self.cfg.max_voltage_v
        evse_max = min(self.cfg.max_voltage_v, self.group.capabilities.max_voltage_v)
        # IEC 61851-23:2023 CC.4.1.2 test voltage (PROTOCOL-FACTS section 2)
        if ev_max <= 500.0:
            self._test_voltage_v = min(500.0, ev_max + 50.0, evse_max)
        else:
            self._test_voltage_v = min(evse_max, 1.1 * ev_max)
        self._cc_passed = False
        self._test_reached_t = None
        now = self.clock()
        self._cc_start_t = now
        self._cc_deadline_t = now + self.charging.cable_check_timeout_s
        self._cc_enter("wait_ready")
        if self.imd is None:  # a config error the loader refuses; never "Valid" without a reading
            self.raise_fault("CABLE_CHECK_FAILED", "no insulation monitor configured for this connector")

    def cable_check_passed(self) -> bool:
        return self._cc_passed

    def _cc_enter(self, step: str) -> None:
        self._cc_step, self._cc_step_t = step, self.clock()

    def _cable_check_tick(self, now: float) -> None:
        cfg = self.charging
        elapsed = now - self._cc_step_t
        voltage = self.present_voltage()
        if self._cc_passed:
            return
        if self._cc_step == "imd_self_test":
            self._self_test_step(now)
            return
        if now > self._cc_deadline_t:
            self.raise_fault("CABLE_CHECK_FAILED", f"step {self._cc_step} timed out")
            return
        if self._cc_step == "wait_ready":
            if self.lock_state() == "FAULT" or (self.lock_state() != "LOCKED"
                                                and now - self._cc_start_t > cfg.lock_timeout_s):
                self.raise_fault("CONNECTOR_LOCK_FAILURE", f"lock reports {self.lock_state()} before cable check")
            elif voltage < cfg.safe_voltage_v and self.lock_state() == "LOCKED" and self.cp_state == "C":
                self.imd.begin_self_test(cfg.imd_self_test_timeout_s)
                self._cc_enter("imd_self_test")
        elif self._cc_step == "energize":
            self._energize_step()
        elif self._cc_step == "close_contactors":
            if self.io_contactors_closed():
                if self.may_energize("cable check test voltage"):
                    self.group.set_output(self._test_voltage_v, cfg.cable_check_max_current_a)
                    self.switch_on()
                    self._cc_enter("raise_voltage")
            elif elapsed > cfg.contactor_feedback_timeout_s:
                self.raise_fault("CONTACTOR_NOT_CLOSED", "no closed feedback in cable check")
        elif self._cc_step == "raise_voltage":
            if voltage >= 0.95 * self._test_voltage_v:
                self.imd.set_cable_check_mode(True)
                self._test_reached_t = now
                self._cc_enter("hold")
        elif self._cc_step == "hold":
            if voltage < 0.9 * self._test_voltage_v:
                self.raise_fault("CABLE_CHECK_FAILED", f"test voltage fell to {voltage:.0f} V")
            elif elapsed >= cfg.cable_check_hold_s and self._insulation_judged():
                self.group.switch_off()
                self._cc_enter("discharge")
        elif self._cc_step == "discharge":
            if voltage < cfg.safe_voltage_v:
                self._cc_passed = True
                self._cc_enter("done")

    def _self_test_step(self, now: float) -> None:
        cfg = self.charging
        result = self.imd.self_test_result
        if result is None:
            if now - self._cc_step_t > cfg.imd_self_test_timeout_s + SELF_TEST_MARGIN_S:
                self.raise_fault("IMD_SELFTEST_FAILED", "no self-test result in cable check")
            return
        if not result:
            self.raise_fault("IMD_SELFTEST_FAILED", "self-test failed in cable check")
            return
        self._cc_deadline_t = now + cfg.cable_check_timeout_s  # the test proper starts now, once
        self._cc_enter("energize")
        self._energize_step()

    def _energize_step(self) -> None:
        """Contactors closed once energizing is allowed; a refusal that lasts ends at the cable check timeout."""
        if self.may_energize("cable check contactors"):
            self.close_contactors()
            self._cc_enter("close_contactors")

    def _insulation_judged(self) -> bool:
        """True once a valid IMD reading, taken at the test voltage, shows the insulation good."""
        reading = self.imd.latest
        if reading is None or self._test_reached_t is None:
            return False
        if reading.t < self._test_reached_t + self.charging.isolation_sample_s:
            return False  # taken before (or too soon after) the test voltage: says nothing about this test
        if not reading.resistance_valid or reading.device_error:
            return False
        if reading.system_voltage_v < SYSTEM_VOLTAGE_SHARE * self._test_voltage_v:
            return False  # the IMD did not see the test voltage: not a reading of this cable under test
        if reading.resistance_ohm < self.imd.cfg.fault_below_ohm:
            self.raise_fault("ISOLATION_FAULT", f"{reading.resistance_ohm / 1000:.0f} kohm in cable check")
            return False
        self.imd.set_cable_check_mode(False)
        return True
