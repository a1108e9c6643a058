"""The rig's CSMS in the availability scenarios (OCPP 2.0.1 blocks B and G).

`reset-onidle`: while the first car charges the CSMS asks Reset OnIdle; the station must answer Scheduled,
let every car finish, restart once the last transaction has ended (the rig's controller handle starts it again,
as systemd would) and come back with BootNotification reason RemoteReset and every connector Available.

`change-availability`: while the first car charges the CSMS asks its EVSE Inoperative; the station must answer
Scheduled, let the car finish and report the connector Unavailable once the transaction has ended; then
Operative brings it back to Available.

A step that did not happen is a note beginning "not every", which the verdict counts as a problem.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocpp.v201 import call

ROLES = ("reset-onidle", "change-availability")


def overrides(role: str, folder: Path) -> list[str]:
    """Config keys for the controller: a store, so that the reason of the restart outlives it."""
    if role == "reset-onidle":
        return [f'store.path="{folder / "controller-store.db"}"']
    return []


def _station_calls(rig: Any) -> list[tuple[str, dict]]:
    """Every CALL the station sent, in order: (action, payload)."""
    found = []
    for entry in rig.csms.traffic:
        try:
            frame = json.loads(entry["frame"]) if entry["dir"] == "in" else None
        except (ValueError, TypeError):
            continue
        if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2:
            found.append((frame[2], frame[3]))
    return found


def _charging(rig: Any, cid: int) -> bool:
    return any(e["transactionInfo"].get("chargingState") == "Charging" for e in rig._events(cid))


def _last_status(rig: Any, cid: int, after: int = 0) -> str | None:
    statuses = [p["connectorStatus"] for action, p in _station_calls(rig)[after:]
                if action == "StatusNotification" and p["evseId"] == cid]
    return statuses[-1] if statuses else None


async def play(rig: Any, station: str, ids: list[int], timeout_s: float) -> None:
    cid = ids[0]
    await rig.csms.wait_for(lambda: _charging(rig, cid), timeout_s)
    if rig.role == "reset-onidle":
        answer = await rig.csms.peer(station).call(call.Reset(type="OnIdle"))
        rig.notes.append(f"Reset OnIdle: {answer.status}")
    else:
        answer = await rig.csms.peer(station).call(call.ChangeAvailability(
            operational_status="Inoperative", evse={"id": cid}))
        rig.notes.append(f"ChangeAvailability Inoperative evse {cid}: {answer.status}")
    if answer.status != "Scheduled":
        rig.notes.append(f"not every answer was as expected: Scheduled while a transaction runs, got {answer.status}")


async def settle(rig: Any, station: str, ids: list[int], timeout_s: float) -> None:
    try:
        if rig.role == "reset-onidle":
            await _after_reset(rig, ids, timeout_s)
        else:
            await _after_inoperative(rig, station, ids[0], timeout_s)
    except TimeoutError:
        rig.notes.append(f"not every step of {rig.role} came in {timeout_s:.0f} s")


async def _after_reset(rig: Any, ids: list[int], timeout_s: float) -> None:
    def rebooted() -> int | None:
        calls = _station_calls(rig)
        boots = [i for i, (action, p) in enumerate(calls) if action == "BootNotification" and p["reason"] == "RemoteReset"]
        return boots[-1] + 1 if boots else None
    after = await rig.csms.wait_for(rebooted, timeout_s)
    rig.notes.append("BootNotification RemoteReset after the Reset")
    await rig.csms.wait_for(lambda: all(_last_status(rig, cid, after) == "Available" for cid in ids), timeout_s)
    rig.notes.append("every connector Available after the restart")


async def _after_inoperative(rig: Any, station: str, cid: int, timeout_s: float) -> None:
    await rig.csms.wait_for(lambda: _last_status(rig, cid) == "Unavailable", timeout_s)
    rig.notes.append(f"evse {cid} Unavailable after its transaction ended")
    answer = await rig.csms.peer(station).call(call.ChangeAvailability(operational_status="Operative",
                                                                      evse={"id": cid}))
    rig.notes.append(f"ChangeAvailability Operative evse {cid}: {answer.status}")
    await rig.csms.wait_for(lambda: _last_status(rig, cid) == "Available", timeout_s)
    rig.notes.append(f"evse {cid} Available again")
