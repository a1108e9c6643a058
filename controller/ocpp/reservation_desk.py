"""The service's side of reservations (block H): it answers the CSMS's ReserveNow / CancelReservation, tells
it of reservations that ended by themselves (ReservationStatusUpdate), shows Reserved in the connectors'
statuses, and ends a reservation when its idToken starts the transaction (reservationId in that event).
The rules themselves are in controller/ocpp/reservations.py.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from controller.ocpp.device_model import CONNECTOR_TYPES
from controller.ocpp.reservations import Reservation, Reservations
from controller.store.ocpp_reservations import ReservationStore

log = logging.getLogger(__name__)

CHECK_S = 0.25  # how often reservations are checked for their expiry (on the service's clock)


class ReservationDesk:
    def __init__(self, service: Any, store: ReservationStore | None, connector_status: Callable[[Any], str]):
        """`service`: the OcppService (clock, connectors, device model, status notes, queue);
        `connector_status(connector)`: its status without reservations."""
        self._service = service
        self._connector_status = connector_status
        connectors = service.connectors
        self.book = Reservations(store, service.clock,
                                 {cid: CONNECTOR_TYPES.get(c.cfg.type, "Unknown") for cid, c in connectors.items()},
                                 lambda evse: connector_status(connectors[evse]), self._setting, self._may_hold)

    @property
    def active(self) -> list[Reservation]:
        return self.book.active

    def may_use(self, evse_id: int, id_token: dict | str | None, group_id_token: dict | str | None = None) -> bool:
        return self.book.may_use(evse_id, id_token, group_id_token)

    def status(self, connector: Any) -> str:
        """The connector's status as the CSMS sees it: Reserved while a reservation keeps it free."""
        return self.book.status(connector.cfg.id, self._connector_status(connector))

    def reserve_now(self, reservation_id: int, expiry: str, id_token: dict, evse_id: int | None,
                    connector_type: str | None, group_id_token: dict | None) -> str:
        status = self.book.reserve_now(reservation_id, expiry, id_token, evse_id=evse_id,
                                       connector_type=connector_type, group_id_token=group_id_token)
        self._changed([])
        return status

    def cancel(self, reservation_id: int) -> str:
        status = self.book.cancel(reservation_id)
        self._changed([])
        return status

    def use(self, payload: dict, evse_id: int, id_token: dict | str, group_id_token: dict | None) -> None:
        """The idToken authorized the transaction of `payload` (a TransactionEvent) on the EVSE: the reservation
        it used ends and the event carries its id."""
        reservation_id = self.book.use(evse_id, id_token, group_id_token)
        if reservation_id is not None:
            payload["reservationId"] = reservation_id
            self._changed([])

    def check(self) -> None:
        """End the reservations that expired or whose EVSE is out of service."""
        ended = self.book.ended()
        if ended:
            self._changed(ended)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_S)
            try:
                self.check()
            except Exception:  # e.g. the store's disk is full: try again at the next check
                log.exception("OCPP: the reservations' check failed")

    def close(self) -> None:
        self.book.close()

    def _changed(self, ended: list[tuple[int, str]]) -> None:
        """Tell the CSMS of reservations that ended by themselves; note every connector's status anew."""
        service = self._service
        for reservation_id, why in ended:
            service._enqueue_message("ReservationStatusUpdate", {"reservationId": reservation_id,
                                                                 "reservationUpdateStatus": why})
        for connector in service.connectors.values():
            service._note_status(connector)
        service._wake.set()

    def _setting(self, name: str) -> bool:
        value = self._service.device_model.get({"name": "ReservationCtrlr"}, {"name": name}, None)[1]
        return (value or "").lower() == "true"

    def _may_hold(self, evse_id: int) -> bool:
        """A connector that lets every car charge (charging.auto_authorize) cannot keep a reservation."""
        return not getattr(getattr(self._service.connectors[evse_id], "charging", None), "auto_authorize", False)
