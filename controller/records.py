"""Writes the controller's events into the persistent store: events, faults, sessions and outages.

A port is "out" (NEVI: cannot deliver power) while its connector is unavailable or in emergency.
"""
from __future__ import annotations

import time

from controller.store import Store

OUT_STATES = ("unavailable", "emergency")


class StoreRecorder:
    def __init__(self, store: Store):
        self.store = store
        self._session_ids: dict[int, int] = {}
        self._out: dict[int, bool] = {}
        self._last_progress = 0.0

    def __call__(self, kind: str, data: dict) -> None:
        connector = data.get("connector")
        if kind == "phase":
            self.store.event("phase", data["state"], connector)
            self._track_outage(connector, data["state"], bool(data.get("maintenance")))
        elif kind == "fault":
            if data["active"]:
                self.store.fault_raised(data["code"], data["severity"], data.get("detail", ""), connector)
            else:
                self.store.fault_cleared(data["code"], connector)
        elif kind == "session_started":
            self._session_ids[connector] = self.store.session_started(connector, evcc_id=data.get("evcc_id") or None)
        elif kind == "session_ended":
            sid = self._session_ids.pop(connector, None)
            if sid is not None:
                self.store.session_ended(
                    sid, energy_kwh=data["energy_kwh"], peak_kw=data["peak_kw"], stop_reason=data["stop_reason"],
                    error_codes=list(data["fault_codes"]), energy_source=data.get("energy_source", "modules"))
        elif kind == "v2g_closed":  # the summary only: the raw answer-time samples are for the rig and benches
            self.store.event(kind, kind, connector, {k: v for k, v in data.items() if k != "answer_us"})
        else:
            self.store.event(kind, kind, connector if isinstance(connector, int) else None, data)

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
