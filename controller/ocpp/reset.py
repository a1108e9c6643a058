"""Reset (OCPP 2.0.1 B11/B12): the CSMS restarts the station, or one EVSE.

The station, Immediate: every car is asked to stop, the power goes off (the app's stop switches modules off and
opens the contactors before the process exits, whatever the cars did), every open transaction ends with
stoppedReason ImmediateReset, then the controller restarts. OnIdle: Scheduled while any transaction runs; the
restart follows the end of the last one. The restart itself is the app's (`restart`): under systemd the
controller exits with its restart exit status and the unit starts it again; in the rig the controller handle
starts it again. The reason is kept in the store so that the next BootNotification says RemoteReset.

One EVSE: every EVSE is driven by the one controller process, so an EVSE's reset is its connector's: its
transaction ends as above (the car asked to stop first; the connector's own stop timeout forces the power down),
then the connector is taken out of service and put back (set_enabled), which starts it afresh from its idle
state. OnIdle waits for that EVSE's transaction. A connector out of service (the CSMS's or a technician's word)
stays out.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Protocol

from controller.store.ocpp_station_state import StationStateStore

log = logging.getLogger(__name__)

BOOT_REASON_KEY = "boot_reason"
POWERED_STATES = ("cable_check", "precharge", "charging", "stopping", "error_shutdown")
RESTARTABLE_STATES = ("available", "plugged", "session_end", "unavailable", "emergency")  # no session running
STOP_WAIT_S = 5.0  # the cars' own stop; after it the app's stop cuts the power anyway
SEND_WAIT_S = 5.0  # the Ended events reach the CSMS before the restart while the link is up (else: queued on disk)


class ResettableStation(Protocol):
    """What the reset needs of the OCPP service."""
    connectors: dict[int, Any]
    transactions: dict[int, Any]
    accepted: bool

    def unsent(self) -> int: ...
    def end_transactions(self, stopped_reason: str, trigger: str, evses: set[int] | None = None) -> None: ...
    def operative(self, evse_id: int) -> bool: ...


def boot_reason(store: StationStateStore) -> str:
    """Why this start: RemoteReset once after a Reset, PowerUp otherwise."""
    return store.take(BOOT_REASON_KEY) or "PowerUp"


class StationReset:
    def __init__(self, store: StationStateStore, restart: Callable[[], None] | None):
        self._store = store
        self._restart = restart
        self.scheduled = False  # a station OnIdle, waiting for every transaction to end
        self.underway = False  # the station's restart sequence runs
        self.closed = False  # transactions were ended for the restart: no new one starts
        self._scheduled_evses: set[int] = set()  # EVSE OnIdle resets waiting for their transaction
        self._evses_underway: set[int] = set()
        self._evses_closed: set[int] = set()  # their transaction ended for the reset, the connector not yet back
        self._due: list[int | None] = []  # resets to start now: None the station, else an EVSE

    def holds(self, evse_id: int) -> bool:
        """No new transaction may start on this EVSE: a reset ended its transactions and is not done."""
        return self.closed or evse_id in self._evses_closed

    def request(self, kind: str, evse_id: int | None, busy: set[int], known: bool) -> tuple[str, dict | None]:
        """(ResetStatusEnumType, statusInfo) for a Reset; `busy`: the EVSEs with a transaction, `known`: the
        EVSE exists. What may start now is handed out by take_due()."""
        if evse_id is not None:
            return self._request_evse(kind, evse_id, busy, known)
        if self._restart is None:
            return "Rejected", {"reason_code": "NoRestart", "additional_info": "this controller cannot restart"}
        if self.underway:
            return "Accepted", None  # already on its way
        if kind == "OnIdle" and busy:
            self.scheduled = True
            return "Scheduled", None
        self.scheduled = False
        self.underway = True
        self._due.append(None)
        return "Accepted", None

    def _request_evse(self, kind: str, evse_id: int, busy: set[int], known: bool) -> tuple[str, dict | None]:
        if not known:
            return "Rejected", {"reason_code": "UnknownEvse", "additional_info": f"no EVSE {evse_id}"}
        if self.underway or evse_id in self._evses_underway:
            return "Accepted", None  # already on its way
        if kind == "OnIdle" and evse_id in busy:
            self._scheduled_evses.add(evse_id)
            return "Scheduled", None
        self._scheduled_evses.discard(evse_id)
        self._evses_underway.add(evse_id)
        self._due.append(evse_id)
        return "Accepted", None

    def note_idle(self, busy: set[int]) -> None:
        """After every connector event: scheduled resets whose transactions have ended become due."""
        if self.scheduled and not busy and not self.underway:
            self.scheduled = False
            self.underway = True
            self._due.append(None)
        for evse_id in sorted(self._scheduled_evses - busy):
            self._scheduled_evses.discard(evse_id)
            if not self.underway:
                self._evses_underway.add(evse_id)
                self._due.append(evse_id)

    def take_due(self) -> list[int | None]:
        due, self._due = self._due, []
        return due

    async def _stopped(self, station: ResettableStation, evses: set[int], done: Callable[[str], bool]) -> bool:
        """Ask the cars of `evses` to stop and wait (bounded) until each connector's state is `done`."""
        for evse in evses & set(station.transactions):
            station.connectors[evse].request_stop("reset")
        deadline = time.monotonic() + STOP_WAIT_S
        while not all(done(station.connectors[evse].state) for evse in evses):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def run(self, station: ResettableStation) -> None:
        """The station's reset: transactions ended, the reason stored, then the app restarts the controller."""
        log.warning("OCPP: Reset: the controller restarts")
        await self._stopped(station, set(station.connectors), lambda state: state not in POWERED_STATES)
        self.closed = True
        station.end_transactions("ImmediateReset", "ResetCommand")
        self._store.put(BOOT_REASON_KEY, "RemoteReset")
        deadline = time.monotonic() + SEND_WAIT_S
        while time.monotonic() < deadline and station.accepted and station.unsent():
            await asyncio.sleep(0.05)
        self._restart()

    async def run_evse(self, station: ResettableStation, evse_id: int) -> None:
        """One EVSE's reset: its transaction ended, its connector out of service and back."""
        log.warning("OCPP: Reset of EVSE %d", evse_id)
        connector = station.connectors[evse_id]
        try:
            settled = await self._stopped(station, {evse_id}, lambda state: state in RESTARTABLE_STATES)
            self._evses_closed.add(evse_id)
            station.end_transactions("ImmediateReset", "ResetCommand", {evse_id})
            if not settled:
                log.warning("OCPP: EVSE %d still %s after its stop: reset without the restart of its connector",
                            evse_id, connector.state)
            elif connector.enabled and station.operative(evse_id):
                connector.set_enabled(False)
                connector.set_enabled(True)
        finally:
            self._evses_underway.discard(evse_id)
            self._evses_closed.discard(evse_id)
