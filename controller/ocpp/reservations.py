"""Reservations (OCPP 2.0.1 block H): ReserveNow, CancelReservation, expiry, and who may use a reserved EVSE.

A reservation names an EVSE, or none (any EVSE, with ReservationCtrlr NonEvseSpecific): the station then
keeps one free EVSE (of the asked connector type) for every such reservation, and shows its free EVSEs as
Reserved once there are no more of them than reservations waiting. Reserved is shown only on an EVSE that
would otherwise be Available; a car plugged in makes it Occupied, and the reservation still refuses every
idToken but its own (or its groupIdToken) until that token starts the transaction there, which ends the
reservation (TransactionEvent reservationId). A reservation also ends at its expiry (ReservationStatusUpdate
Expired), when cancelled, and when its EVSE becomes Faulted or Unavailable (ReservationStatusUpdate Removed).

may_use() is the one question every authorization path asks: "may this idToken use this EVSE now?".
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable

from controller.store.ocpp_reservations import ReservationStore

log = logging.getLogger(__name__)

INOPERATIVE = ("Faulted", "Unavailable")


def token_value(token: dict | str | None) -> str | None:
    """The idToken string of an IdTokenType (camelCase or the ocpp package's snake_case) or of a bare string."""
    if token is None or isinstance(token, str):
        return token
    return token.get("idToken", token.get("id_token"))


def same_token(a: dict | str | None, b: dict | str | None) -> bool:
    """idTokens are compared without case (OCPP 2.0.1 IdTokenType); the types when both are known."""
    value_a, value_b = token_value(a), token_value(b)
    if value_a is None or value_b is None or value_a.casefold() != value_b.casefold():
        return False
    type_a = a.get("type") if isinstance(a, dict) else None
    type_b = b.get("type") if isinstance(b, dict) else None
    return type_a is None or type_b is None or type_a == type_b


def parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # OCPP times are UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class Reservation:
    id: int
    expiry: float  # time.time() scale
    id_token: dict
    group_id_token: dict | None = None
    evse: int | None = None  # None: any EVSE
    connector_type: str | None = None  # OCPP ConnectorEnumType, None: any

    def allows(self, id_token: dict | str | None, group_id_token: dict | str | None = None) -> bool:
        return same_token(self.id_token, id_token) or (
            self.group_id_token is not None and same_token(self.group_id_token, group_id_token))

    def fits(self, connector_type: str) -> bool:
        return self.connector_type is None or self.connector_type == connector_type


class Reservations:
    def __init__(self, store: ReservationStore | None, clock: Callable[[], float], connector_types: dict[int, str],
                 status: Callable[[int], str], setting: Callable[[str], bool], holdable: Callable[[int], bool]):
        """connector_types: OCPP ConnectorEnumType per EVSE; status(evse): its status without reservations
        (Available, Occupied, Faulted, Unavailable); setting(name): a ReservationCtrlr boolean; holdable(evse):
        False where the EVSE lets every car charge (auto-authorize), so a reservation could not be kept."""
        self._store = store if store is not None else ReservationStore()
        self._clock = clock
        self._types = dict(connector_types)
        self._status = status
        self._setting = setting
        self._holdable = holdable
        self._by_id: dict[int, Reservation] = {}
        # EVSEs seen in service since the start: a connector starts Unavailable (until its I/O board answers),
        # which must not remove the reservations a restart kept
        self._in_service: set[int] = set()
        for saved in self._store.load():
            try:
                reservation = Reservation(**saved)
            except TypeError:
                log.warning("OCPP: a stored reservation could not be read: %.200s", saved)
                continue
            self._by_id[reservation.id] = reservation

    @property
    def active(self) -> list[Reservation]:
        return sorted(self._by_id.values(), key=lambda r: r.id)

    # ---- the CSMS's requests --------------------------------------------------------------------------
    def reserve_now(self, reservation_id: int, expiry_date_time: str, id_token: dict, *,
                    evse_id: int | None = None, connector_type: str | None = None,
                    group_id_token: dict | None = None) -> str:
        """ReserveNow's status: Accepted, Faulted, Occupied, Rejected or Unavailable."""
        try:
            expiry = parse_time(expiry_date_time)
        except (TypeError, ValueError):
            return "Rejected"
        wanted = Reservation(reservation_id, expiry, dict(id_token), dict(group_id_token) if group_id_token else None,
                             evse_id, connector_type)
        if not self._setting("Enabled") or expiry <= self._clock():
            return "Rejected"
        previous = self._by_id.pop(reservation_id, None)  # the same id replaces the reservation (H01.FR.02)
        status = self._check(wanted)
        if status != "Accepted":
            if previous is not None:  # the new one cannot be kept: the old one stands
                self._by_id[reservation_id] = previous
            return status
        self._store.save(reservation_id, expiry, asdict(wanted))  # on disk before the CSMS hears Accepted
        self._by_id[reservation_id] = wanted
        return "Accepted"

    def _check(self, wanted: Reservation) -> str:
        if wanted.evse is not None:
            if wanted.evse not in self._types or not wanted.fits(self._types[wanted.evse]):
                return "Rejected"
            if not self._holdable(wanted.evse):
                return "Rejected"
            status = self._status(wanted.evse)
            if status in INOPERATIVE:
                return status
            return "Accepted" if status == "Available" and not self._specific(wanted.evse) else "Occupied"
        if not self._setting("NonEvseSpecific"):
            return "Rejected"
        candidates = [e for e, kind in self._types.items() if wanted.fits(kind) and self._holdable(e)]
        if not candidates:
            return "Rejected"
        if len(self._free(wanted)) >= self._waiting(wanted):  # one free EVSE for each, this one included
            return "Accepted"
        statuses = {self._status(e) for e in candidates}
        if statuses == {"Faulted"}:
            return "Faulted"
        return "Unavailable" if statuses <= set(INOPERATIVE) else "Occupied"

    def cancel(self, reservation_id: int) -> str:
        if reservation_id not in self._by_id:
            return "Rejected"
        self._end(reservation_id)
        return "Accepted"

    # ---- what the rest of the station asks --------------------------------------------------------------
    def status(self, evse: int, status: str) -> str:
        """The EVSE's connector status with reservations: Reserved instead of Available while one holds it."""
        if status != "Available":
            return status
        if self._specific(evse):
            return "Reserved"
        kind = self._types.get(evse)
        for waiting in self._by_id.values():
            if waiting.evse is None and kind is not None and waiting.fits(kind) \
                    and len(self._free(waiting)) <= self._waiting(waiting):
                return "Reserved"
        return status

    def may_use(self, evse: int, id_token: dict | str | None, group_id_token: dict | str | None = None) -> bool:
        """May this idToken (with its groupIdToken, when known) use this EVSE now?"""
        specific = self._specific(evse)
        if specific:
            return any(r.allows(id_token, group_id_token) for r in specific)
        kind = self._types.get(evse)
        for waiting in self._by_id.values():
            if waiting.evse is not None or kind is None or not waiting.fits(kind):
                continue
            if waiting.allows(id_token, group_id_token):
                return True
            # this EVSE counts as free (a car may be plugged in there, waiting): would enough stay free?
            if len(self._free(waiting) | {evse}) <= self._waiting(waiting):
                return False
        return True

    def use(self, evse: int, id_token: dict | str | None, group_id_token: dict | str | None = None) -> int | None:
        """The token starts a transaction on the EVSE: the reservation it used ends; its id, or None."""
        kind = self._types.get(evse)
        mine = [r for r in self._specific(evse) if r.allows(id_token, group_id_token)]
        mine += [r for r in self.active if r.evse is None and kind is not None and r.fits(kind)
                 and r.allows(id_token, group_id_token)]
        if not mine:
            return None
        self._end(mine[0].id)
        return mine[0].id

    def ended(self) -> list[tuple[int, str]]:
        """Reservations that end now by themselves: (id, "Expired" or "Removed"), the latter when the
        reserved EVSE went out of service (Faulted or Unavailable) after it had been in service."""
        now, gone = self._clock(), []
        out = {evse for evse in self._types if self._status(evse) in INOPERATIVE}
        went_out = out & self._in_service
        self._in_service = (self._in_service | set(self._types)) - out
        for reservation in self.active:
            if reservation.expiry <= now:
                gone.append((reservation.id, "Expired"))
            elif reservation.evse in went_out:
                gone.append((reservation.id, "Removed"))
        for reservation_id, _ in gone:
            self._end(reservation_id)
        return gone

    def close(self) -> None:
        self._store.close()

    # ---- the counting -----------------------------------------------------------------------------------
    def _end(self, reservation_id: int) -> None:
        self._store.delete(reservation_id)
        self._by_id.pop(reservation_id, None)

    def _specific(self, evse: int) -> list[Reservation]:
        return [r for r in self._by_id.values() if r.evse == evse]

    def _free(self, waiting: Reservation) -> set[int]:
        """EVSEs a reservation for any EVSE could still be kept on: Available, fitting, not reserved by id."""
        return {e for e, kind in self._types.items() if waiting.fits(kind) and self._holdable(e)
                and self._status(e) == "Available" and not self._specific(e)}

    def _waiting(self, wanted: Reservation) -> int:
        """Reservations for any EVSE that compete with `wanted` for the same EVSEs (itself included)."""
        return sum(1 for r in self._by_id.values() if r.evse is None and r.id != wanted.id and (
            r.connector_type is None or wanted.connector_type is None or r.connector_type == wanted.connector_type)
        ) + 1
