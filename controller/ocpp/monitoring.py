"""Variable monitoring (OCPP 2.0.1 N04, N05, N07): SetVariableMonitoring, ClearVariableMonitoring and the
NotifyEvent a monitor sends when its variable crosses the line.

Monitors: UpperThreshold (the value goes above it), LowerThreshold (below it) and Delta (it moved by at least
this much since the last report); Periodic ones are UnsupportedMonitorType. A threshold monitor reports
Alerting when its line is crossed and Alerting with cleared=true when the value is back; a Delta monitor
reports Delta. A monitor with transaction=true only watches while its EVSE has a transaction. The monitors
are kept in the store (controller/store/ocpp_monitors.py) until the CSMS clears them; their state (crossed or
not, the Delta's reference) starts afresh after a restart. Values are sampled every SAMPLE_S by a task of
the OCPP service, from the connectors' status (controller/ocpp/monitored_variables.py).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from controller.ocpp.monitored_variables import MAX_MONITORS, Monitored, monitored, reader, where_of
from controller.ocpp.transactions import timestamp
from controller.store.ocpp_monitors import MonitorStore

log = logging.getLogger(__name__)

SAMPLE_S = 1.0  # the monitors' sampling period
TYPES = ("UpperThreshold", "LowerThreshold", "Delta")
UNSUPPORTED = ("Periodic", "PeriodicClockAligned")
CRITERIA = {"ThresholdMonitoring": ("UpperThreshold", "LowerThreshold"), "DeltaMonitoring": ("Delta",),
            "PeriodicMonitoring": ()}


@dataclass
class Monitor:
    id: int
    type: str
    value: float
    severity: int
    transaction: bool
    item: Monitored
    crossed: bool = False  # threshold monitors: beyond the line at the last sample
    reference: float | None = None  # Delta: the value last reported
    saved: dict = field(default_factory=dict)


class VariableMonitors:
    def __init__(self, connectors: dict[int, Any], store: MonitorStore | None, notify: Callable[[dict], None],
                 clock: Callable[[], float], next_event_id: Callable[[], int],
                 transaction_of: Callable[[int], str | None], enabled: Callable[[], bool] = lambda: True,
                 report: Callable[[dict], None] = lambda payload: None):
        """`notify(payload)`: queue a NotifyEvent (camelCase); `transaction_of(evse)`: its transactionId or None."""
        self._items = {item.where: item for item in monitored(sorted(connectors))}
        self._read = {where: reader(item, connectors) for where, item in self._items.items()}
        self._store = store if store is not None else MonitorStore()
        self._notify = notify
        self._clock = clock
        self._next_event_id = next_event_id
        self._transaction_of = transaction_of
        self._enabled = enabled
        self._report = report  # queue a NotifyMonitoringReport
        self.monitors: dict[int, Monitor] = {}
        self._next_id = 1  # ids are not given again in this run, even once cleared (events may still be queued)
        for monitor_id, saved in self._store.load().items():
            item = self._items.get(tuple(saved["where"]))
            if item is not None:
                self.monitors[monitor_id] = Monitor(monitor_id, saved["type"], saved["value"], saved["severity"],
                                                    saved["transaction"], item, saved=saved)
            self._next_id = max(self._next_id, monitor_id + 1)

    @property
    def monitorable(self) -> set[tuple]:
        return set(self._items)

    def live_values(self) -> dict[str, Callable[[], str]]:
        """The monitored variables' values now, by device model key (GetVariables, the base report)."""
        from controller.ocpp.device_model import Variable
        return {Variable(item.component, item.name, "", evse=item.evse, connector=item.connector).key:
                (lambda read=self._read[where]: _text(read())) for where, item in self._items.items()}

    # ---- SetVariableMonitoring / ClearVariableMonitoring ----------------------------------------------------
    def set(self, requests: list[dict]) -> list[dict]:
        return [self._set_one(request) for request in requests]

    def _set_one(self, request: dict) -> dict:
        kind, severity = request.get("type", ""), request.get("severity", 0)
        result = {"status": "Accepted", "type": kind, "severity": severity,
                  "component": request.get("component", {}), "variable": request.get("variable", {})}
        where = where_of(result["component"], result["variable"])
        item = self._items.get(where)
        given_id = request.get("id")
        if item is None:
            known = any(w[:3] == where[:3] for w in self._items)
            return {**result, "status": "UnknownVariable" if known else "UnknownComponent"}
        if kind in UNSUPPORTED or kind not in TYPES:
            return {**result, "status": "UnsupportedMonitorType"}
        value = float(request.get("value", 0))
        if not 0 <= severity <= 9 or (kind == "Delta" and value <= 0) or (
                given_id is not None and given_id not in self.monitors):
            return {**result, "status": "Rejected"}
        if given_id is None and any(m.item is item and m.type == kind and m.severity == severity
                                    for m in self.monitors.values()):
            return {**result, "status": "Duplicate"}
        if given_id is None and len(self.monitors) >= MAX_MONITORS:
            return {**result, "status": "Rejected"}
        monitor_id = given_id
        if monitor_id is None:
            monitor_id, self._next_id = self._next_id, self._next_id + 1
        saved = {"where": list(where), "type": kind, "value": value, "severity": severity,
                 "transaction": bool(request.get("transaction", False))}
        self._store.save(monitor_id, saved)  # on disk before it is in force
        self.monitors[monitor_id] = Monitor(monitor_id, kind, value, severity, saved["transaction"], item, saved=saved)
        return {**result, "id": monitor_id}

    def clear(self, ids: list[int]) -> list[dict]:
        results = []
        for monitor_id in ids:
            found = self.monitors.pop(monitor_id, None)
            if found is not None:
                self._store.delete(monitor_id)
            results.append({"id": monitor_id, "status": "Accepted" if found else "NotFound"})
        return results

    # ---- GetMonitoringReport (N02) ------------------------------------------------------------------------
    def report(self, request_id: int, criteria: list[str] | None, component_variable: list[dict] | None) -> str:
        """Queue the NotifyMonitoringReport of the monitors asked for; GetMonitoringReport's status."""
        types = {t for c in (criteria or ["ThresholdMonitoring", "DeltaMonitoring"])
                 for t in CRITERIA.get(c, ())}
        chosen = [m for m in sorted(self.monitors.values(), key=lambda m: m.id)
                  if m.type in types and _asked(m.item, component_variable)]
        if not chosen:
            return "EmptyResultSet"
        by_item: dict[tuple, list[Monitor]] = {}
        for monitor in chosen:
            by_item.setdefault(monitor.item.where, []).append(monitor)
        entries = [{"component": _component(found[0].item), "variable": {"name": found[0].item.name},
                    "variableMonitoring": [{"id": m.id, "transaction": m.transaction, "value": m.value,
                                            "type": m.type, "severity": m.severity} for m in found]}
                   for found in by_item.values()]
        self._report({"requestId": request_id, "seqNo": 0, "generatedAt": timestamp(self._clock()),
                      "monitor": entries, "tbc": False})
        return "Accepted"

    # ---- sampling ------------------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            try:
                self.sample()
            except Exception:  # a reading gone wrong must not end the monitoring, nor the service
                log.exception("OCPP: sampling the monitored variables failed")

    def sample(self) -> None:
        if not self.monitors or not self._enabled():
            return
        values: dict[tuple, float | None] = {}
        events = []
        for monitor in list(self.monitors.values()):
            where = monitor.item.where
            tx = self._transaction_of(monitor.item.evse) if monitor.item.evse is not None else None
            if monitor.transaction and tx is None:
                monitor.crossed, monitor.reference = False, None
                continue
            if where not in values:
                values[where] = self._read[where]()
            event = self._check(monitor, values[where], tx)
            if event is not None:
                events.append(event)
        if events:
            now = self._clock()
            self._notify({"generatedAt": timestamp(now), "seqNo": 0, "eventData": events})

    def _check(self, monitor: Monitor, value: float | None, tx: str | None) -> dict | None:
        if value is None:
            return None
        if monitor.type == "Delta":
            if monitor.reference is None:
                monitor.reference = value  # the first sample is the reference
                return None
            if abs(value - monitor.reference) < monitor.value:
                return None
            monitor.reference = value
            return self._event(monitor, "Delta", value, tx, cleared=False)
        beyond = value > monitor.value if monitor.type == "UpperThreshold" else value < monitor.value
        if beyond == monitor.crossed:
            return None
        monitor.crossed = beyond
        return self._event(monitor, "Alerting", value, tx, cleared=not beyond)

    def _event(self, monitor: Monitor, trigger: str, value: float, tx: str | None, cleared: bool) -> dict:
        item = monitor.item
        component = _component(item)
        data = {"eventId": self._next_event_id(), "timestamp": timestamp(self._clock()), "trigger": trigger,
                "actualValue": f"{value:g}", "eventNotificationType": "CustomMonitor",
                "variableMonitoringId": monitor.id, "component": component, "variable": {"name": item.name},
                "techInfo": f"{monitor.type} {monitor.value:g} (severity {monitor.severity})"}
        if cleared:
            data["cleared"] = True
        if tx is not None:
            data["transactionId"] = tx
        return data

    def close(self) -> None:
        self._store.close()


def _text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _component(item: Monitored) -> dict:
    component: dict = {"name": item.component}
    if item.evse is not None:
        component["evse"] = {"id": item.evse, **({"connectorId": item.connector} if item.connector else {})}
    return component


def _asked(item: Monitored, component_variable: list[dict] | None) -> bool:
    """Is the item among those asked for (snake_case keys; a component without a variable: all of its)?"""
    if not component_variable:
        return True
    for asked in component_variable:
        where = where_of(asked.get("component", {}), asked.get("variable") or {})
        evse = (asked.get("component", {}).get("evse") or {})
        if where[0] == item.component and ("id" not in evse or where[1] == item.evse) and \
                (not where[3] or where[3] == item.name):
            return True
    return False
