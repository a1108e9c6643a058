"""The rig's CSMS in the `reservation` scenario (OCPP 2.0.1 block H).

Before the cars plug in, the CSMS checks that a reservation ends by itself (one that expires after a second:
ReservationStatusUpdate Expired) and by CancelReservation, then reserves the first connector for RESERVED_TOKEN
(StatusNotification Reserved). When the car there has plugged in, a RequestStartTransaction with another
idToken must be Rejected, and one with the reserved idToken Accepted; the transaction must then carry the
reservationId. Other connectors (nevi) are started with the rig's usual token, as in `remote-start`.
Whatever goes otherwise is written to `problems`, which fail the verdict.

It also turns clock-aligned meter values on (AlignedDataCtrlr Interval 1 s) before the cars: MeterValues with
the idle connector's energy register must arrive, and MeterValueClock events during the transaction.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ocpp.v201 import call

if TYPE_CHECKING:
    from hil.csms.rig_role import RigCsms

RESERVED_TOKEN = "RIG-RESERVED-1"
OTHER_TOKEN = "RIG-SOMEONE-ELSE"
RESERVATION_ID = 1
EXPIRING_ID, CANCELLED_ID = 91, 92
EXPIRES_AFTER_S = 1.0


def iso_utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class ReservationRole:
    def __init__(self, rig_csms: RigCsms):
        self.rig = rig_csms
        self.csms = rig_csms.csms
        self.problems: list[str] = []

    def _expect(self, what: str, got: str, wanted: str) -> None:
        self.rig.notes.append(f"{what}: {got}")
        if got != wanted:
            self.problems.append(f"reservation: {what} answered {got}, expected {wanted}")

    def _statuses(self, evse: int) -> list[str]:
        return [s["connectorStatus"] for s in self.csms.calls("StatusNotification") if s["evseId"] == evse]

    async def _reserve(self, station: str, reservation_id: int, evse: int, expiry_s: float) -> str:
        answer = await self.csms.peer(station).call(call.ReserveNow(
            id=reservation_id, expiry_date_time=iso_utc(time.time() + expiry_s),
            id_token={"idToken": RESERVED_TOKEN, "type": "Central"}, evse_id=evse))
        return answer.status

    async def before_cars(self, station: str, ids: list[int], timeout_s: float) -> None:
        evse = ids[0]
        await self.csms.wait_for(lambda: station in self.csms.stations and self._statuses(evse), timeout_s)
        answer = await self.csms.set_variables(station, [
            {"component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "Interval"}, "attributeValue": "1"}])
        self._expect("SetVariables AlignedDataCtrlr Interval 1", answer.set_variable_result[0]["attribute_status"],
                     "Accepted")
        self._expect(f"ReserveNow {EXPIRING_ID} (expires in {EXPIRES_AFTER_S:.0f} s)",
                     await self._reserve(station, EXPIRING_ID, evse, EXPIRES_AFTER_S), "Accepted")
        try:
            await self.csms.wait_for(lambda: self.csms.calls("ReservationStatusUpdate"), EXPIRES_AFTER_S + 5)
            update = self.csms.calls("ReservationStatusUpdate")[0]
            self._expect(f"ReservationStatusUpdate {update['reservationId']}", update["reservationUpdateStatus"],
                         "Expired")
        except TimeoutError:
            self.problems.append(f"reservation: {EXPIRING_ID} did not expire")
        self._expect(f"ReserveNow {CANCELLED_ID}", await self._reserve(station, CANCELLED_ID, evse, 60), "Accepted")
        answer = await self.csms.peer(station).call(call.CancelReservation(reservation_id=CANCELLED_ID))
        self._expect(f"CancelReservation {CANCELLED_ID}", answer.status, "Accepted")
        self._expect(f"ReserveNow {RESERVATION_ID} evse {evse}",
                     await self._reserve(station, RESERVATION_ID, evse, timeout_s), "Accepted")
        try:
            await self.csms.wait_for(lambda: self._statuses(evse)[-1] == "Reserved", 5)
        except TimeoutError:
            self.problems.append(f"reservation: evse {evse} never reported Reserved ({self._statuses(evse)})")
        try:  # the Interval is 1 s: the next whole second brings one at the latest
            await self.csms.wait_for(lambda: any(m["evseId"] == evse for m in self.csms.calls("MeterValues")), 3)
        except TimeoutError:
            self.problems.append(f"reservation: no clock-aligned MeterValues of evse {evse} before the car")

    async def play(self, station: str, ids: list[int], timeout_s: float) -> None:
        await asyncio.gather(self._reserved_car(station, ids[0], timeout_s),
                             *(self.rig._remote_start(cid, False, timeout_s) for cid in ids[1:]))

    async def _reserved_car(self, station: str, evse: int, timeout_s: float) -> None:
        await self.csms.wait_for(lambda: [e for e in self.rig._events(evse) if e["eventType"] == "Started"], timeout_s)
        other = await self.csms.request_start(station, evse, OTHER_TOKEN, 100 + evse)
        self._expect(f"RequestStartTransaction evse {evse} by another idToken", other.status, "Rejected")
        mine = await self.csms.request_start(station, evse, RESERVED_TOKEN, evse)
        self._expect(f"RequestStartTransaction evse {evse} by the reserved idToken", mine.status, "Accepted")
        try:
            await self.csms.wait_for(lambda: any(e.get("reservationId") == RESERVATION_ID
                                                 for e in self.rig._events(evse)), 5)
        except TimeoutError:
            self.problems.append(f"reservation: no TransactionEvent carried reservationId {RESERVATION_ID}")
