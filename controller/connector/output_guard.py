"""What stands between a connector and a live output: the permission to energize, the fail-safe wrapper around
every power path, and the connector lock (locked before energizing, unlocked only below 60 V measured).

`may_energize()` is the single place that says yes before modules switch on or contactors close: no blocking
fault, the car in CP C, the lock reporting LOCKED, and the safety supervisor's own permission when one is
attached (`host.supervisor`). `power_path()` wraps every call that can move power: any exception inside ends
with the modules off and the contactors open before it goes on up.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator, Protocol

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.ports import IoBoardPort, ModuleGroupPort
from controller.connector.safety_supervisor import SafetySupervisor
from controller.faults import Fault

log = logging.getLogger(__name__)


class GuardedConnector(Protocol):
    """What the guard reads on its connector, and the one flag it sets: the contactors commanded closed."""
    cfg: ConnectorConfig
    charging: ChargingConfig
    io: IoBoardPort
    group: ModuleGroupPort
    clock: Callable[[], float]
    state: str
    supervisor: SafetySupervisor | None
    _contactors_commanded: bool
    @property
    def cp_state(self) -> str: ...
    def lock_state(self) -> str: ...
    def blocking_faults(self) -> list[Fault]: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...


class OutputGuard:
    def __init__(self, host: GuardedConnector) -> None:
        self.host = host
        self._weld_since: float | None = None

    # ---- permission to energize ------------------------------------------------------------------------
    def may_energize(self, what: str) -> bool:
        reason = self._energize_refusal()
        if reason:
            log.info("connector %d: %s not energized: %s", self.host.cfg.id, what, reason)
            return False
        return True

    def _energize_refusal(self) -> str:
        blocking = self.host.blocking_faults()
        if blocking:
            return "fault " + ",".join(f.code for f in blocking)
        if self.host.cp_state != "C":
            return f"CP {self.host.cp_state}, not C"
        if self.host.lock_state() != "LOCKED":
            return f"lock {self.host.lock_state()}"
        supervisor = self.host.supervisor
        if supervisor is not None and not supervisor.may_energize():
            reason = supervisor.refusal()
            supervisor.report_refusal()  # a stale measurement raises its code: the refusal is never silent
            return "safety supervisor refuses: " + reason
        return ""

    def close_contactors_for_test(self) -> bool:
        """The technician's selftest: contactors closed with the modules off, no car, the port out of service."""
        host = self.host
        if host.state != "unavailable" or host.group.is_on or host.cp_state != "A" or self._energize_blocked_by_fault():
            log.info("connector %d: contactor test refused (state %s, CP %s)", host.cfg.id, host.state, host.cp_state)
            return False
        self.host._contactors_commanded = True
        self.host.io.set_max_voltage(self.host.charging.safe_voltage_v)  # no voltage expected: the board trips above it
        self.host.io.close_contactors()
        return True

    def _energize_blocked_by_fault(self) -> bool:
        return any(f.severity == "emergency" for f in self.host.blocking_faults())

    def switch_on(self) -> None:
        """Modules on: only with the permission to energize."""
        if self.may_energize("modules on"):
            self.host.group.switch_on()

    # ---- fail-safe -------------------------------------------------------------------------------------
    @contextmanager
    def power_path(self, what: str) -> Iterator[None]:
        """Any exception inside: power off at once (never raising), CONTROLLER_INTERNAL, then re-raise."""
        try:
            yield
        except Exception as exc:
            log.exception("connector %d: %s failed; cutting power", self.host.cfg.id, what)
            self.fail_safe_off()
            try:
                self.host.raise_fault("CONTROLLER_INTERNAL", f"{what} failed: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("connector %d: raising CONTROLLER_INTERNAL failed", self.host.cfg.id)
                self.fail_safe_off()
            raise

    def fail_safe_off(self) -> None:
        """Modules off, then contactors open, each tried whatever the other did; never raises."""
        try:
            self.host.group.emergency_off()
        except Exception:
            log.exception("connector %d: emergency_off failed", self.host.cfg.id)
        self.host._contactors_commanded = False
        try:
            self.host.io.open_contactors()
        except Exception:
            log.exception("connector %d: open_contactors failed", self.host.cfg.id)

    # ---- welded contacts -------------------------------------------------------------------------------
    def check_weld(self) -> None:
        """A contactor whose feedback stays closed after the open command is welded, whatever the state (an
        unplug right after a stop must not cut the check short). Judged only while the board reports."""
        status = self.host.io.status
        closed = status is not None and (status.dc_plus_closed or status.dc_minus_closed)
        if self.host._contactors_commanded or not closed or not self.host.io.online:
            self._weld_since = None
            return
        now = self.host.clock()
        if self._weld_since is None:
            self._weld_since = now
        elif now - self._weld_since > self.host.charging.contactor_feedback_timeout_s:
            self.host.raise_fault("CONTACTOR_WELDED", "contactor feedback still closed after the open command")
