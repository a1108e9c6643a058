"""Faults to the CSMS (OCPP 2.0.1 G and N): a NotifyEvent for every fault raised and every fault cleared.

Each event reports the component's Problem variable: "true" with trigger Alerting when the fault is raised,
"false" with trigger Delta and cleared=true when it goes (cause: the raise's eventId). techCode carries the
ChargeX minimum required error code (MREC, CX0nn) where one applies, else our fault code; techInfo names our
code, severity and detail, so the CSMS has both. A connector's fault is its Connector's (EVSE n, connector 1),
a cabinet-wide one the ChargingStation's.

Payloads are camelCase, as sent: they go through the queue (on disk with a store) so that faults that happen
offline reach the CSMS when the link returns, in order with the transactions' events.
"""
from __future__ import annotations

from controller.faults import CHARGEX_VENDOR, mrec
from controller.formats.events import FaultCleared, FaultRaised
from controller.ocpp.transactions import timestamp

TECH_INFO_MAX = 500  # EventDataType.techInfo
TECH_CODE_MAX = 50


class FaultEvents:
    def __init__(self, first_id: int = 1) -> None:
        self._next_id = first_id  # from the clock: ids of an earlier run still queued are not reused
        self._raised: dict[tuple[int | None, str], int] = {}  # (connector, code) -> eventId of its raise

    def take_id(self) -> int:
        """An eventId for another NotifyEvent of this station (a variable monitor's): never one of these."""
        event_id, self._next_id = self._next_id, self._next_id + 1
        return event_id

    def notify_event(self, event: FaultRaised | FaultCleared, now: float) -> dict:
        """The NotifyEvent payload for one fault event."""
        raised = isinstance(event, FaultRaised)
        event_id, self._next_id = self._next_id, self._next_id + 1
        key = (event.connector, event.code)
        code = mrec(event.code)
        info = f"{event.code} ({event.severity})" + (f": {event.detail}" if event.detail else "")
        if code is not None:
            info = f"ChargeX MREC {code[1]} ({CHARGEX_VENDOR}); {info}"
        data: dict = {"eventId": event_id, "timestamp": timestamp(now),
                      "trigger": "Alerting" if raised else "Delta", "actualValue": "true" if raised else "false",
                      "techCode": (code[0] if code else event.code)[:TECH_CODE_MAX],
                      "techInfo": info[:TECH_INFO_MAX], "eventNotificationType": "HardWiredNotification",
                      "component": ({"name": "ChargingStation"} if event.connector is None else
                                    {"name": "Connector", "evse": {"id": event.connector, "connectorId": 1}}),
                      "variable": {"name": "Problem"}}
        if raised:
            self._raised[key] = event_id
        else:
            data["cleared"] = True
            cause = self._raised.pop(key, None)
            if cause is not None:
                data["cause"] = cause
        return {"generatedAt": timestamp(now), "seqNo": 0, "eventData": [data]}
