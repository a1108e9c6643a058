"""While the cable may carry voltage: the connector lock must report LOCKED and the insulation monitor must give
valid readings (IEC 61851-23: no energy without insulation monitoring). Checked on every control tick."""
from __future__ import annotations

from typing import Protocol

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.ports import ImdPort

IMD_SUPERVISED_STATES = ("precharge", "charging")
ENERGIZED_CABLE_CHECK_STEPS = ("close_contactors", "raise_voltage", "hold", "discharge")
# an IMD reads invalid while it tests itself (a few seconds); invalid for longer in the self-test means a
# resistance channel stuck at invalid, which may never show "test done" either
SELF_TEST_INVALID_S = 10.0


class WatchedConnector(Protocol):
    charging: ChargingConfig
    state: str
    imd: ImdPort | None
    def cable_check_step(self) -> str: ...
    def lock_state(self) -> str: ...
    def fault_active(self, code: str) -> bool: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...
    def clear_fault(self, code: str) -> None: ...


class EnergizedWatch:
    def __init__(self, host: WatchedConnector) -> None:
        self.host = host
        self.reset()

    def reset(self) -> None:
        self._imd_invalid_since: float | None = None

    def tick(self, now: float) -> None:
        host = self.host
        state, step = host.state, host.cable_check_step()
        energized = state in IMD_SUPERVISED_STATES or (state == "cable_check" and step in ENERGIZED_CABLE_CHECK_STEPS)
        if energized and host.lock_state() != "LOCKED":
            host.raise_fault("CONNECTOR_LOCK_FAILURE", f"lock reports {host.lock_state()} while energized")
        imd = host.imd
        if imd is None:
            return
        reading = imd.latest
        valid = reading is not None and imd.fresh and reading.resistance_valid and not reading.device_error
        if valid and host.fault_active("IMD_INVALID"):
            host.clear_fault("IMD_INVALID")  # clears by itself, as the catalogue says ("auto")
        # the cable check counts in every step; during the self-test the IMD reads invalid by design, so there
        # an invalid reading counts only beyond the time a self-test takes
        counted = state in IMD_SUPERVISED_STATES or (state == "cable_check" and step != "done")
        bound = host.charging.imd_invalid_after_s
        if state == "cable_check" and step == "imd_self_test":
            bound = max(bound, SELF_TEST_INVALID_S)
        if valid or not counted:
            self._imd_invalid_since = None
        elif self._imd_invalid_since is None:
            self._imd_invalid_since = now
        elif now - self._imd_invalid_since >= bound:
            host.raise_fault("IMD_INVALID", f"no valid insulation reading for {bound:g} s")
