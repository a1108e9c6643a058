"""Reset (OCPP 2.0.1 B11/B12): the CSMS restarts the station.

Immediate: every car is asked to stop, the power goes off (the app's stop switches modules off and opens the
contactors before the process exits, whatever the cars did), every open transaction ends with stoppedReason
ImmediateReset, then the controller restarts. OnIdle: Scheduled while any transaction runs; the restart follows
the end of the last one. The restart itself is the app's (`restart`): under systemd the controller exits with
its restart exit status and the unit starts it again; in the rig the controller handle starts it again. The
reason is kept in the store so that the next BootNotification says RemoteReset.

Only the whole station resets: every EVSE is driven by the one controller process, so an EVSE alone cannot be
restarted, and B11/B12 let a station answer Rejected to an EVSE reset it does not support.
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
STOP_WAIT_S = 5.0  # the cars' own stop; after it the app's stop cuts the power anyway
SEND_WAIT_S = 5.0  # the Ended events reach the CSMS before the restart while the link is up (else: queued on disk)


class ResettableStation(Protocol):
    """What the reset needs of the OCPP service."""
    connectors: dict[int, Any]
    transactions: dict[int, Any]
    accepted: bool

    def unsent(self) -> int: ...
    def end_transactions(self, stopped_reason: str, trigger: str) -> None: ...


def boot_reason(store: StationStateStore) -> str:
    """Why this start: RemoteReset once after a Reset, PowerUp otherwise."""
    return store.take(BOOT_REASON_KEY) or "PowerUp"


class StationReset:
    def __init__(self, store: StationStateStore, restart: Callable[[], None] | None):
        self._store = store
        self._restart = restart
        self.scheduled = False  # OnIdle, waiting for the transactions to end
        self.underway = False  # the restart sequence runs
        self.closed = False  # transactions were ended for the restart: no new one starts

    def request(self, kind: str, evse_id: int | None, busy: bool) -> tuple[str, dict | None]:
        """(ResetStatusEnumType, statusInfo); Accepted means: call run() now."""
        if self._restart is None:
            return "Rejected", {"reason_code": "NoRestart", "additional_info": "this controller cannot restart"}
        if evse_id is not None:
            return "Rejected", {"reason_code": "UnsupportedRequest",
                                "additional_info": "only the whole station resets (one process runs every EVSE)"}
        if self.underway:
            return "Accepted", None  # already on its way
        if kind == "OnIdle" and busy:
            self.scheduled = True
            return "Scheduled", None
        self.scheduled = False
        self.underway = True
        return "Accepted", None

    def idle_now(self, busy: bool) -> bool:
        """After every connector event: True once when a scheduled reset may go (call run() then)."""
        if self.scheduled and not busy and not self.underway:
            self.scheduled = False
            self.underway = True
            return True
        return False

    async def run(self, station: ResettableStation) -> None:
        log.warning("OCPP: Reset: the controller restarts")
        for evse in list(station.transactions):
            station.connectors[evse].request_stop("reset")
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and any(c.state in POWERED_STATES for c in station.connectors.values()):
            await asyncio.sleep(0.05)
        self.closed = True
        station.end_transactions("ImmediateReset", "ResetCommand")
        self._store.put(BOOT_REASON_KEY, "RemoteReset")
        deadline = time.monotonic() + SEND_WAIT_S
        while time.monotonic() < deadline and station.accepted and station.unsent():
            await asyncio.sleep(0.05)
        self._restart()
