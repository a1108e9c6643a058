"""The cable check of a DC connector (IEC 61851-23:2023 CC.4.1.2, PROTOCOL-FACTS section 2), advanced by `tick()`.

Steps: wait until the output is below 60 V, the lock reports LOCKED and the car shows CP C; the IMD's self-test
(bounded by its own timeout); contactors closed; test voltage at <= 2 A; hold while the IMD reads the insulation
at that voltage; discharge below 60 V. The cable check timeout runs from the end of the self-test, so a slow
self-test does not eat the time for the test itself.

Only a valid IMD reading judges the insulation: valid range, no device error, taken after the test voltage was
reached plus `isolation_sample_s`, and with the IMD's own system voltage near the test voltage.
"""
from __future__ import annotations

from typing import Callable, Protocol

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.ev_session import EvChargeParameters
from controller.connector.ports import ImdPort, ModuleGroupPort

SELF_TEST_MARGIN_S = 2.0  # the driver ends a self-test at its timeout; this only guards a driver that never does
SYSTEM_VOLTAGE_SHARE = 0.9  # the IMD must see at least this share of the test voltage for its reading to count


class CableCheckHost(Protocol):
    """What the cable check reads and drives on its connector."""
    cfg: ConnectorConfig
    charging: ChargingConfig
    group: ModuleGroupPort
    clock: Callable[[], float]
    ev_parameters: EvChargeParameters | None
    imd: ImdPort | None
    def present_voltage(self) -> float: ...
    def lock_state(self) -> str: ...
    @property
    def cp_state(self) -> str: ...
    def may_energize(self, what: str) -> bool: ...
    def close_contactors(self) -> None: ...
    def switch_on(self) -> None: ...
    def io_contactors_closed(self) -> bool: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...


class CableCheck:
    def __init__(self, host: CableCheckHost) -> None:
        self.host = host
        self.reset()

    def reset(self) -> None:
        self.step = ""
        self.step_t = 0.0
        self._start_t = 0.0
        self._deadline_t = 0.0
        self.passed = False
        self.test_voltage_v = 0.0
        self._test_reached_t: float | None = None

    def start(self) -> None:
        ev = self.host.ev_parameters
        ev_max = ev.max_voltage_v if ev else self.host.cfg.max_voltage_v
        evse_max = min(self.host.cfg.max_voltage_v, self.host.group.capabilities.max_voltage_v)
        # IEC 61851-23:2023 CC.4.1.2 test voltage (PROTOCOL-FACTS section 2)
        if ev_max <= 500.0:
            self.test_voltage_v = min(500.0, ev_max + 50.0, evse_max)
        else:
            self.test_voltage_v = min(evse_max, 1.1 * ev_max)
        self.passed = False
        self._test_reached_t = None
        now = self.host.clock()
        self._start_t = now
        self._deadline_t = now + self.host.charging.cable_check_timeout_s
        self._enter("wait_ready")
        if self.host.imd is None:  # a config error the loader refuses; never "Valid" without a reading
            self.host.raise_fault("CABLE_CHECK_FAILED", "no insulation monitor configured for this connector")

    def _enter(self, step: str) -> None:
        self.step, self.step_t = step, self.host.clock()

    def tick(self, now: float) -> None:
        cfg = self.host.charging
        elapsed = now - self.step_t
        voltage = self.host.present_voltage()
        if self.passed:
            return
        if self.step == "imd_self_test":
            self._self_test_step(now)
            return
        if now > self._deadline_t:
            self.host.raise_fault("CABLE_CHECK_FAILED", f"step {self.step} timed out")
            return
        if self.step == "wait_ready":
            if self.host.lock_state() == "FAULT" or (self.host.lock_state() != "LOCKED"
                                                and now - self._start_t > cfg.lock_timeout_s):
                self.host.raise_fault("CONNECTOR_LOCK_FAILURE",
                                      f"lock reports {self.host.lock_state()} before cable check")
            elif voltage < cfg.safe_voltage_v and self.host.lock_state() == "LOCKED" and self.host.cp_state == "C":
                self.host.imd.begin_self_test(cfg.imd_self_test_timeout_s)
                self._enter("imd_self_test")
        elif self.step == "energize":
            self._energize_step()
        elif self.step == "close_contactors":
            if self.host.io_contactors_closed():
                if self.host.may_energize("cable check test voltage"):
                    self.host.group.set_output(self.test_voltage_v, cfg.cable_check_max_current_a)
                    self.host.switch_on()
                    self._enter("raise_voltage")
            elif elapsed > cfg.contactor_feedback_timeout_s:
                self.host.raise_fault("CONTACTOR_NOT_CLOSED", "no closed feedback in cable check")
        elif self.step == "raise_voltage":
            if voltage >= 0.95 * self.test_voltage_v:
                self.host.imd.set_cable_check_mode(True)
                self._test_reached_t = now
                self._enter("hold")
        elif self.step == "hold":
            if voltage < 0.9 * self.test_voltage_v:
                self.host.raise_fault("CABLE_CHECK_FAILED", f"test voltage fell to {voltage:.0f} V")
            elif elapsed >= cfg.cable_check_hold_s and self._insulation_judged():
                self.host.group.switch_off()
                self._enter("discharge")
        elif self.step == "discharge":
            if voltage < cfg.safe_voltage_v:
                self.passed = True
                self._enter("done")

    def _self_test_step(self, now: float) -> None:
        cfg = self.host.charging
        result = self.host.imd.self_test_result
        if result is None:
            if now - self.step_t > cfg.imd_self_test_timeout_s + SELF_TEST_MARGIN_S:
                self.host.raise_fault("IMD_SELFTEST_FAILED", "no self-test result in cable check")
            return
        if not result:
            self.host.raise_fault("IMD_SELFTEST_FAILED", "self-test failed in cable check")
            return
        self._deadline_t = now + cfg.cable_check_timeout_s  # the test proper starts now, once
        self._enter("energize")
        self._energize_step()

    def _energize_step(self) -> None:
        """Contactors closed once energizing is allowed; a refusal that lasts ends at the cable check timeout."""
        if self.host.may_energize("cable check contactors"):
            self.host.close_contactors()
            self._enter("close_contactors")

    def _insulation_judged(self) -> bool:
        """True once a valid IMD reading, taken at the test voltage, shows the insulation good."""
        reading = self.host.imd.latest
        if reading is None or self._test_reached_t is None:
            return False
        if reading.t < self._test_reached_t + self.host.charging.isolation_sample_s:
            return False  # taken before (or too soon after) the test voltage: says nothing about this test
        if not reading.resistance_valid or reading.device_error:
            return False
        if reading.system_voltage_v < SYSTEM_VOLTAGE_SHARE * self.test_voltage_v:
            return False  # the IMD did not see the test voltage: not a reading of this cable under test
        if reading.resistance_ohm < self.host.imd.cfg.fault_below_ohm:
            self.host.raise_fault("ISOLATION_FAULT", f"{reading.resistance_ohm / 1000:.0f} kohm in cable check")
            return False
        self.host.imd.set_cable_check_mode(False)
        return True
