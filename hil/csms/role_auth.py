"""The rig's CSMS and card reader in the authorization scenarios (OCPP 2.0.1 block C).

- `rfid`: a card is shown at the cabinet's reader (the rig's reader simulator on a pty) for every car; the
  CSMS accepts it (Authorize) and the car charges.
- `local-list-offline`: the CSMS sends a local list and goes away; for every car an unknown card is shown
  (refused: OfflineTxForUnknownIdEnabled is false) and then a listed one (accepted by the list); the CSMS
  comes back and every event, offline=true, reaches it. `local-list-offline-unknown`: the CSMS first sets
  OfflineTxForUnknownIdEnabled=true, and the unknown card alone lets every car charge.
- `autocharge`: the car's EVCCID is its token (MacAddress); the CSMS accepts that MAC.
The controller's own auto-authorization is off in all of them: only a token lets a car charge.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from hil.sim.rfid_reader import RfidReaderSim

AUTH_ROLES = ("rfid", "local-list-offline", "local-list-offline-unknown", "autocharge")
# one card per car, each a different one (a reader takes the same card again within 2 s for a repeat):
# the CSMS accepts CARD..., the local list holds LISTED..., nobody knows UNKNOWN...
CARD, LISTED, UNKNOWN = "04A1B2", "04C0FF", "0BADCA"
CARS = range(1, 16)


def card(kind: str, car: int) -> str:
    return f"{kind}{car:02X}"


CAR_MAC = "04:65:65:00:64:C3"  # the rig car's EVCCID 0465650064c3 (hil/ev/car.py) as Autocharge shows it
SHOW_GAP_S = 0.5  # between two cards at the reader
QUIET_S = 0.3  # the link this long without a frame: nothing is in flight


class AuthRole:
    def __init__(self, role: str, csms: Any, station: str):
        self.role = role
        self.csms = csms
        self.station = station
        self.reader = RfidReaderSim() if role != "autocharge" else None
        self.notes: list[str] = []
        self.outage: tuple[float, float] | None = None
        # known to the CSMS from the start: Autocharge asks as soon as the car tells its EVCCID
        self.csms.tokens.update({card(CARD, i): {"status": "Accepted"} for i in CARS})
        self.csms.tokens[CAR_MAC] = {"status": "Accepted"}

    def overrides(self) -> list[str]:
        overrides = ["charging.auto_authorize=false"]  # only a token lets a car charge
        if self.reader is not None:
            overrides.append(f'rfid.port="{self.reader.port}"')  # one reader for the whole cabinet
        if self.role == "autocharge":
            overrides.append("ocpp.autocharge=true")
        return overrides

    async def play(self, ids: list[int], timeout_s: float) -> None:
        if self.role == "rfid":
            for cid in ids:  # a card per car, once its transaction started
                await self._started(cid, timeout_s)
                self._show(card(CARD, cid))
                await asyncio.sleep(SHOW_GAP_S)
        elif self.role != "autocharge":
            await self._local_list_offline(ids, timeout_s)

    async def _local_list_offline(self, ids: list[int], timeout_s: float) -> None:
        await self.csms.wait_for(lambda: self.station in self.csms.stations and self.csms.calls("StatusNotification"),
                                 timeout_s)
        entries = [{"idToken": {"idToken": card(LISTED, i), "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
                   for i in CARS]
        answer = await self.csms.send_local_list(self.station, 1, "Full", entries)
        self.notes.append(f"SendLocalList: {answer.status}")
        unknown_allowed = self.role == "local-list-offline-unknown"
        if unknown_allowed:
            answer = await self.csms.set_variables(self.station, [{
                "component": {"name": "AuthCtrlr"}, "variable": {"name": "OfflineTxForUnknownIdEnabled"},
                "attributeValue": "true"}])
            status = answer.set_variable_result[0]["attribute_status"]
            self.notes.append(f"SetVariables OfflineTxForUnknownIdEnabled: {status}")
        for cid in ids:  # every car plugged in; then no frame in flight when the CSMS goes (a CALL cut off
            await self._started(cid, timeout_s)  # unanswered is sent again, once more, after the outage)
        await self.csms.wait_for(lambda: time.time() - self.csms.traffic[-1]["t"] > QUIET_S, timeout_s)
        began = time.time()
        await self.csms.stop()
        await asyncio.sleep(SHOW_GAP_S)
        for i in ids:  # each card goes to a car that waits (or, shown before it plugs in, waits for it)
            self._show(card(UNKNOWN, i))
            await asyncio.sleep(SHOW_GAP_S)
            if not unknown_allowed:
                self._show(card(LISTED, i))
                await asyncio.sleep(SHOW_GAP_S)
        await asyncio.sleep(2.0)  # the cars charge offline a while
        await self.csms.start()
        self.outage = (began, time.time())

    async def _started(self, cid: int, timeout_s: float) -> None:
        def started() -> bool:
            return any(e["eventType"] == "Started" and e.get("evse", {}).get("id") == cid
                       for e in self.csms.calls("TransactionEvent"))
        await self.csms.wait_for(started, timeout_s)

    def _show(self, token: str) -> None:
        self.reader.show(token)
        self.notes.append(f"card {token} shown at {time.time():.3f}")

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()

    # ---- the verdict ----------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What the CSMS saw that this role does not allow."""
        events = self.csms.calls("TransactionEvent")
        ids_seen = len({e["transactionInfo"]["transactionId"] for e in events})
        authorized = [e for e in events if e["triggerReason"] == "Authorized"]
        tokens = [e.get("idToken", {}).get("idToken") for e in authorized]
        expected = {"rfid": CARD, "autocharge": CAR_MAC, "local-list-offline": LISTED,
                    "local-list-offline-unknown": UNKNOWN}[self.role]
        problems = []
        if len(authorized) != ids_seen:
            problems.append(f"{len(authorized)} Authorized TransactionEvents for {ids_seen} transactions")
        if any(not str(token).startswith(expected) for token in tokens):
            problems.append(f"transactions authorized by {sorted(set(map(str, tokens)))}, only {expected}... may")
        asked = [a["idToken"]["idToken"] for a in self.csms.calls("Authorize")]
        if self.role in ("rfid", "autocharge") and sorted(asked) != sorted(tokens):
            problems.append(f"Authorize for {asked}, not for each token that authorized a transaction")
        if self.role.startswith("local-list") and asked:
            problems.append(f"Authorize sent while the CSMS was away: {asked}")
        if self.role.startswith("local-list") and not all(e.get("offline") for e in authorized):
            problems.append("an authorization made while the CSMS was away is not marked offline")
        return problems

    def report(self) -> dict:
        return {"role": self.role, "cards": list(self.reader.shown) if self.reader else [],
                "authorize": self.csms.calls("Authorize"), "notes": list(self.notes),
                "outage": list(self.outage) if self.outage else None, "problems": self.problems()}
