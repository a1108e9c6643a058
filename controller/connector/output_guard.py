"""What stands between a connector and a live output: the permission to energize, the fail-safe wrapper around
every power path, and the connector lock (locked before energizing, unlocked only below 60 V measured).

`may_energize()` is the single place that says yes before modules switch on or contactors close: no blocking
fault, the car in CP C, the lock reporting LOCKED, and the safety supervisor's own permission when one is
attached (`self.supervisor`). `power_path()` wraps every call that can move power: any exception inside ends
with the modules off and the contactors open before it goes on up.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger(__name__)


class OutputGuard:
    def reset_output_guard(self) -> None:
        self._unlock_wanted = False
        self._weld_since: float | None = None
        self.supervisor = getattr(self, "supervisor", None)  # the SafetySupervisor, once one is attached

    # ---- permission to energize ------------------------------------------------------------------------
    def may_energize(self, what: str) -> bool:
        reason = self._energize_refusal()
        if reason:
            log.info("connector %d: %s not energized: %s", self.cfg.id, what, reason)
            return False
        return True

    def _energize_refusal(self) -> str:
        blocking = self.blocking_faults()
        if blocking:
            return "fault " + ",".join(f.code for f in blocking)
        if self.cp_state != "C":
            return f"CP {self.cp_state}, not C"
        if self.lock_state() != "LOCKED":
            return f"lock {self.lock_state()}"
        supervisor = self.supervisor
        if supervisor is not None and not supervisor.may_energize():
            reason = supervisor.refusal()
            supervisor.report_refusal()  # a stale measurement raises its code: the refusal is never silent
            return "safety supervisor refuses: " + reason
        return ""

    def close_contactors_for_test(self) -> bool:
        """The technician's selftest: contactors closed with the modules off, no car, the port out of service."""
        if self.state != "unavailable" or self.group.is_on or self.cp_state != "A" or self._energize_blocked_by_fault():
            log.info("connector %d: contactor test refused (state %s, CP %s)", self.cfg.id, self.state, self.cp_state)
            return False
        self._contactors_commanded = True
        self.io.set_max_voltage(self.charging.safe_voltage_v)  # no voltage expected: the board trips above it
        self.io.close_contactors()
        return True

    def _energize_blocked_by_fault(self) -> bool:
        return any(f.severity == "emergency" for f in self.blocking_faults())

    def switch_on(self) -> None:
        """Modules on: only with the permission to energize."""
        if self.may_energize("modules on"):
            self.group.switch_on()

    # ---- fail-safe -------------------------------------------------------------------------------------
    @contextmanager
    def power_path(self, what: str) -> Iterator[None]:
        """Any exception inside: power off at once (never raising), CONTROLLER_INTERNAL, then re-raise."""
        try:
            yield
        except Exception as exc:
            log.exception("connector %d: %s failed; cutting power", self.cfg.id, what)
            self.fail_safe_off()
            try:
                self.raise_fault("CONTROLLER_INTERNAL", f"{what} failed: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("connector %d: raising CONTROLLER_INTERNAL failed", self.cfg.id)
                self.fail_safe_off()
            raise

    def fail_safe_off(self) -> None:
        """Modules off, then contactors open, each tried whatever the other did; never raises."""
        try:
            self.group.emergency_off()
        except Exception:
            log.exception("connector %d: emergency_off failed", self.cfg.id)
        self._contactors_commanded = False
        try:
            self.io.open_contactors()
        except Exception:
            log.exception("connector %d: open_contactors failed", self.cfg.id)

    # ---- welded contacts -------------------------------------------------------------------------------
    def check_weld(self) -> None:
        """A contactor whose feedback stays closed after the open command is welded, whatever the state (an
        unplug right after a stop must not cut the check short). Judged only while the board reports."""
        status = self.io.status
        closed = status is not None and (status.dc_plus_closed or status.dc_minus_closed)
        if self._contactors_commanded or not closed or not self.io.online:
            self._weld_since = None
            return
        now = self.clock()
        if self._weld_since is None:
            self._weld_since = now
        elif now - self._weld_since > self.charging.contactor_feedback_timeout_s:
            self.raise_fault("CONTACTOR_WELDED", "contactor feedback still closed after the open command")

    # ---- the connector lock ----------------------------------------------------------------------------
    def lock_state(self) -> str:
        """What the board reports: "LOCKED", "UNLOCKED", "FAULT", or "UNKNOWN" without a status."""
        status = self.io.status
        return getattr(status, "lock_state", None) or "UNKNOWN"

    def lock(self) -> None:
        self._unlock_wanted = False
        self.io.set_lock(True)

    def release_lock(self) -> None:
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
