"""What a fault means for the connector, in one order: an emergency switches the modules off and opens the
contactors FIRST, synchronously (inside the driver's report, in the CAN receive path), then the fault is
recorded, logged and emitted; last the state follows (emergency, or an error shutdown). A fault still active
when reported again is enforced again: still no power.
"""
from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Callable, Protocol

from controller.formats.cabinet.config import ConnectorConfig
from controller.connector.session import SessionRecord
from controller.connector.table import SESSION_STATES
from controller.faults import CATALOGUE, Fault
from controller.formats.events import EventSink, FaultCleared, FaultRaised

log = logging.getLogger(__name__)


class FaultedConnector(Protocol):
    """The fault table the reaction keeps, and what it drives."""
    cfg: ConnectorConfig
    state: str
    active_faults: dict[str, Fault]
    fault_history: list[Fault]
    _conditions: set[str]
    @property
    def session(self) -> SessionRecord | None: ...
    def power_path(self, what: str) -> AbstractContextManager[None]: ...
    def power_off_now(self) -> None: ...
    def set_state_f(self, on: bool) -> None: ...
    def fire(self, trigger: str) -> bool: ...
    def note_stop_reason(self, reason: str) -> None: ...


class FaultReaction:
    def __init__(self, host: FaultedConnector, *, wall_clock: Callable[[], float], emit: EventSink) -> None:
        self.host = host
        self.cfg = host.cfg
        self.wall_clock = wall_clock
        self._emit = emit

    def on_fault(self, code: str, detail: str, active: bool) -> None:
        """Driver callback; runs inside the CAN receive path for emergencies.

        A latched fault stays when its condition goes away (the e-stop button released): only a
        technician's `clear` removes it, and only once the condition is gone."""
        with self.host.power_path(f"fault {code}"):
            if active:
                self.host._conditions.add(code)
                self.raise_fault(code, detail)
            else:
                self.host._conditions.discard(code)
                if CATALOGUE[code].clears != "latched":
                    self.clear_fault(code)

    def raise_fault(self, code: str, detail: str = "") -> None:
        if code in self.host.active_faults:
            self._enforce(self.host.active_faults[code].severity)  # still active: still no power
            return
        lowered = "warning" if code.startswith("METER_") and self.cfg.on_meter_loss == "continue" else None
        fault = Fault(code=code, connector_id=self.cfg.id, detail=detail, t=self.wall_clock(),
                      severity_override=lowered)
        severity = fault.severity
        if severity == "emergency":
            self.host.power_off_now()
            self.host.set_state_f(True)
        self.host.active_faults[code] = fault
        self.host.fault_history.append(fault)
        del self.host.fault_history[:-200]
        if self.host.session is not None and severity != "warning":
            self.host.session.fault_codes.append(code)
        log.warning("connector %d: fault %s (%s) %s", self.cfg.id, code, severity, detail)
        self._emit(FaultRaised(self.cfg.id, code, severity, detail, fault.t))
        if severity == "error":
            self.host.note_stop_reason(f"error:{code}")
        self._enforce(severity, powered_off=True)

    def _enforce(self, severity: str, powered_off: bool = False) -> None:
        """What an active fault of `severity` means for the state: an emergency, or an error shutdown."""
        if severity == "emergency":
            if not powered_off:
                self.host.power_off_now()
            if self.host.state != "emergency" or powered_off:
                self.host.fire("emergency")
        elif severity == "error":
            if self.host.state in SESSION_STATES or self.host.state in ("plugged", "session_end"):
                self.host.fire("error")
            elif self.host.state == "available":
                self.host.fire("service_lost")

    def clear_fault(self, code: str) -> None:
        fault = self.host.active_faults.pop(code, None)
        if fault is None:
            return
        self._emit(FaultCleared(self.cfg.id, code, fault.severity, "", self.wall_clock()))

    def clear_faults(self, kind: str) -> list[str]:
        """Clear every active fault that clears by `kind` ("unplug" or "latched"); returns their codes."""
        codes = [c for c, f in self.host.active_faults.items() if CATALOGUE[c].clears == kind]
        for code in codes:
            self.clear_fault(code)
        return codes

    def clear_latched(self) -> list[str]:
        """Clear latched faults whose condition is gone; those still present (a pressed e-stop) stay."""
        host = self.host
        codes = [c for c, f in host.active_faults.items()
                 if CATALOGUE[c].clears == "latched" and c not in host._conditions]
        for code in codes:
            self.clear_fault(code)
        return codes
