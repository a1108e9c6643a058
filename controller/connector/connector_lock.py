"""The connector lock: locked before energizing, unlocked only once the measured cable voltage is below the safe
voltage (60 V), however the session ended."""
from __future__ import annotations

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.ports import IoBoardPort


class ConnectorLock:
    def __init__(self, io: IoBoardPort, charging: ChargingConfig) -> None:
        self.io = io
        self.charging = charging
        self._unlock_wanted = False

    def state(self) -> str:
        """What the board reports: "LOCKED", "UNLOCKED", "FAULT", or "UNKNOWN" without a status."""
        status = self.io.status
        return getattr(status, "lock_state", None) or "UNKNOWN"

    def lock(self) -> None:
        self._unlock_wanted = False
        self.io.set_lock(True)

    def release(self) -> None:
        """Unlock as soon as the measured cable voltage is below the safe voltage (now, or from tick())."""
        self._unlock_wanted = True
        self.unlock_when_safe()

    def unlock_when_safe(self) -> None:
        if not self._unlock_wanted:
            return
        status = self.io.status
        if status is not None and status.cable_voltage_v < self.charging.safe_voltage_v:
            self._unlock_wanted = False
            self.io.set_lock(False)

    def unlock_on_request(self) -> str | None:
        """An unlock asked from outside (OCPP UnlockConnector): made now when the measured cable voltage is below
        the safe voltage; otherwise nothing is done and the reason is returned."""
        status = self.io.status
        if status is None:
            return "no status from the I/O board: the cable voltage is unknown"
        if status.cable_voltage_v >= self.charging.safe_voltage_v:
            return (f"the cable is at {status.cable_voltage_v:.0f} V; "
                    f"it unlocks only below {self.charging.safe_voltage_v:.0f} V")
        self._unlock_wanted = False
        self.io.set_lock(False)
        return None
