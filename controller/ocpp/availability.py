"""ChangeAvailability (OCPP 2.0.1 G03/G04): the station, an EVSE or its connector Operative or Inoperative.

An EVSE is Operative only while both the station and the EVSE are: the two settings are kept apart (and in the
store, so a restart keeps them), so that the station going Operative again gives each EVSE back its own. Each
EVSE has one connector (connectorId 1), so a connector's setting is its EVSE's.

Inoperative uses the connector's own "unavailable" state through its public `set_enabled`. A connector with a
transaction keeps charging: the change is Scheduled and made once the transaction has ended. Only connectors this
module took out are put back by Operative: one a technician disabled at the console stays disabled.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from controller.store.ocpp_station_state import StationStateStore

log = logging.getLogger(__name__)

STATION_KEY = "availability/station"
IDLE_STATES = ("available", "plugged", "session_end", "unavailable")  # where disabling ends no transaction


def evse_key(evse_id: int) -> str:
    return f"availability/evse/{evse_id}"


class Availability:
    def __init__(self, connectors: dict[int, Any], store: StationStateStore, busy: Callable[[int], bool]):
        """`busy(evse)`: a transaction runs on that EVSE."""
        self.connectors = connectors
        self._store = store
        self._busy = busy
        self.station_operative = store.get(STATION_KEY) != "Inoperative"
        self.evse_operative = {cid: store.get(evse_key(cid)) != "Inoperative" for cid in connectors}
        self._held: set[int] = set()  # connectors disabled by the CSMS's word (put back by Operative)
        for cid in connectors:  # at start-up: before any car can begin a session
            self._apply(cid)

    def operative(self, evse_id: int) -> bool:
        return self.station_operative and self.evse_operative[evse_id]

    def change(self, status: str, evse_id: int | None, connector_id: int | None) -> str:
        """The answer to one ChangeAvailability: Accepted, Scheduled or Rejected."""
        operative = status == "Operative"
        if evse_id is None or evse_id == 0:  # the whole station
            targets = list(self.connectors)
            self.station_operative = operative
            self._store.put(STATION_KEY, status)
        elif evse_id in self.connectors and connector_id in (None, 1):
            targets = [evse_id]
            self.evse_operative[evse_id] = operative
            self._store.put(evse_key(evse_id), status)
        else:
            return "Rejected"
        scheduled = False
        for cid in targets:
            if not self._apply(cid):
                scheduled = True
        return "Scheduled" if scheduled else "Accepted"

    def follow(self, connector: Any) -> None:
        """After every connector event: a scheduled Inoperative is made once the transaction has ended. Made
        after the event has reached every listener, never inside its delivery (the listeners after this one
        would then see the second state change before the first)."""
        cid = connector.cfg.id
        if self.operative(cid) or cid in self._held or self._busy(cid) or connector.state not in IDLE_STATES:
            return
        try:
            asyncio.get_running_loop().call_soon(self._apply, cid)
        except RuntimeError:  # no loop (a synchronous caller): now
            self._apply(cid)

    def reported(self, evse_id: int, status: str) -> str:
        """The status to tell the CSMS: a connector about to be taken out is told Unavailable at once, not
        Available for the instant between the transaction's end and the change."""
        if status == "Available" and evse_id in self.connectors and not self.operative(evse_id):
            return "Unavailable"
        return status

    def _apply(self, cid: int) -> bool:
        """Bring connector `cid` to what is wanted; False when that has to wait for its transaction to end."""
        connector = self.connectors[cid]
        if self.operative(cid):
            if cid in self._held:
                self._held.discard(cid)
                connector.set_enabled(True)
            return True
        if cid in self._held:
            return True
        if self._busy(cid) or connector.state not in IDLE_STATES:
            return False
        self._held.add(cid)
        log.info("OCPP: connector %d taken out of service (ChangeAvailability Inoperative)", cid)
        connector.set_enabled(False)
        return True
