"""The rig's CSMS refusing, once it is back, a card that started a transaction while it was away (E05).

The CSMS sets OfflineTxForUnknownIdEnabled=true and goes away; every car gets a card nobody knows at the
cabinet's reader and charges offline; the CSMS comes back knowing the card as Invalid and says so in its
answer to the transaction's events. `invalid-id-offline` (StopTxOnInvalidId true, the default): the station
stops the transaction, Deauthorized, stoppedReason DeAuthorized. `invalid-id-max-energy` (StopTxOnInvalidId
false, MaxEnergyOnInvalidId 1 Wh, already delivered offline): the station stops the energy,
EnergyLimitReached, and the transaction ends as the car leaves, stoppedReason EnergyLimitReached.
"""
from __future__ import annotations

import asyncio
import time
from hil.csms.role_auth import CARS, QUIET_S, SHOW_GAP_S, UNKNOWN, AuthRole, card

INVALID_ID_ROLES = ("invalid-id-offline", "invalid-id-max-energy")
OFFLINE_CHARGE_S = 3.0  # the cars charge this long offline before the CSMS comes back
EXPECTED = {"invalid-id-offline": ("Deauthorized", "DeAuthorized"),
            "invalid-id-max-energy": ("EnergyLimitReached", "EnergyLimitReached")}


def _setting(component: str, name: str, value: str) -> dict:
    return {"component": {"name": component}, "variable": {"name": name}, "attributeValue": value}


class InvalidIdRole(AuthRole):
    """AuthRole's reader and report; its own play and verdict."""

    async def play(self, ids: list[int], timeout_s: float) -> None:
        await self.csms.wait_for(lambda: self.station in self.csms.stations and self.csms.calls("StatusNotification"),
                                 timeout_s)
        settings = [_setting("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")]
        if self.role == "invalid-id-max-energy":
            settings += [_setting("TxCtrlr", "StopTxOnInvalidId", "false"),
                         _setting("TxCtrlr", "MaxEnergyOnInvalidId", "1")]
        answer = await self.csms.set_variables(self.station, settings)
        self.notes.append(f"SetVariables: {[r['attribute_status'] for r in answer.set_variable_result]}")
        for cid in ids:
            await self._started(cid, timeout_s)
        await self.csms.wait_for(lambda: time.time() - self.csms.traffic[-1]["t"] > QUIET_S, timeout_s)
        began = time.time()
        await self.csms.stop()
        await asyncio.sleep(SHOW_GAP_S)
        for cid in ids:
            self._show(card(UNKNOWN, cid))
            await asyncio.sleep(SHOW_GAP_S)
        await asyncio.sleep(OFFLINE_CHARGE_S)
        self.csms.tokens.update({card(UNKNOWN, i): {"status": "Invalid"} for i in CARS})
        await self.csms.start()
        self.outage = (began, time.time())

    def problems(self) -> list[str]:
        trigger, stopped = EXPECTED[self.role]
        events = self.csms.calls("TransactionEvent")
        problems = []
        for tx in {e["transactionInfo"]["transactionId"] for e in events}:
            mine = [e for e in events if e["transactionInfo"]["transactionId"] == tx]
            authorized = [e for e in mine if e["triggerReason"] == "Authorized"]
            if not authorized or not all(e.get("offline") for e in authorized):
                problems.append(f"transaction {tx}: no Authorized event made offline")
                continue
            if not str(authorized[0].get("idToken", {}).get("idToken")).startswith(UNKNOWN):
                problems.append(f"transaction {tx}: authorized by {authorized[0].get('idToken')}, not the unknown card")
            if not any(e["triggerReason"] == trigger for e in mine):
                problems.append(f"transaction {tx}: no {trigger} event after the CSMS refused its card")
            ended = [e for e in mine if e["eventType"] == "Ended"]
            if ended and ended[-1]["transactionInfo"].get("stoppedReason") != stopped:
                problems.append(f"transaction {tx}: stoppedReason {ended[-1]['transactionInfo'].get('stoppedReason')},"
                                f" not {stopped}")
        if self.csms.calls("Authorize"):
            problems.append("Authorize sent while the CSMS was away")
        return problems
