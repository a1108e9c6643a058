"""Writes the controller's events into the persistent store: events, faults, sessions and outages.

A port is "out" (NEVI: cannot deliver power) while its connector is unavailable or in emergency.
"""
from __future__ import annotations

import time

from controller.formats.events import (ConsoleLogin, Event, FaultCleared, FaultRaised, PhaseChanged, SessionEnded,
                                       SessionStarted, V2gClosed)
from controller.store import Store

OUT_STATES = ("unavailable", "emergency")


class StoreRecorder:
    def __init__(self, store: Store):
        self.store = store
        self._session_ids: dict[int, int] = {}
        self._out: dict[int, bool] = {}
        self._last_progress = 0.0

    def __call__(self, event: Event) -> None:
        match event:
            case PhaseChanged(connector=connector, state=state, maintenance=maintenance):
                self.store.event("phase", state, connector)
                self._track_outage(connector, state, maintenance)
            case FaultRaised(connector=connector, code=code, severity=severity, detail=detail):
                self.store.fault_raised(code, severity, detail, connector)
            case FaultCleared(connector=connector, code=code):
                self.store.fault_cleared(code, connector)
            case SessionStarted(connector=connector, evcc_id=evcc_id):
                self._session_ids[connector] = self.store.session_started(connector, evcc_id=evcc_id or None)
            case SessionEnded(connector=connector):
                sid = self._session_ids.pop(connector, None)
                if sid is not None:
                    self.store.session_ended(
                        sid, energy_kwh=event.energy_kwh, peak_kw=event.peak_kw, stop_reason=event.stop_reason,
                        error_codes=list(event.fault_codes), energy_source=event.energy_source)
            case V2gClosed():  # the summary only: the raw answer-time samples are for the rig and benches
                data = event.json_fields()
                data.pop("answer_us", None)
                self.store.event(event.KIND, event.KIND, event.connector, data)
            case ConsoleLogin():
                pass  # the console records every login itself (record_action), with its reason
            case _:
                connector = getattr(event, "connector", None)
                self.store.event(event.KIND, event.KIND, connector if isinstance(connector, int) else None,
                                 event.json_fields())

    def _track_outage(self, connector: int, state: str, maintenance: bool = False) -> None:
        out = state in OUT_STATES
        if self._out.get(connector) == out:
            return
        self._out[connector] = out
        if out and maintenance:  # NEVI excludes scheduled maintenance from the uptime
            self.store.outage_started(connector, reason="maintenance", excluded=True)
        elif out:
            self.store.outage_started(connector, reason=state)
        else:
            self.store.outage_ended(connector)

    def progress(self, connectors) -> None:
        """Periodic checkpoint so a killed controller leaves the energy measured so far."""
        now = time.monotonic()
        if now - self._last_progress < self.store.heartbeat_s:  # [store] heartbeat_s, 5 s by default
            return
        self._last_progress = now
        self.store.heartbeat()
        for connector in connectors:
            sid = self._session_ids.get(connector.cfg.id)
            if sid is not None and connector.session is not None:
                self.store.session_progress(sid, connector.session.energy_wh / 1000.0,
                                            connector.session.peak_w / 1000.0)
