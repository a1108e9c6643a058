"""Reservation rules without a link: ReserveNow's statuses, Reserved, who may use a reserved EVSE, expiry."""
from __future__ import annotations

import pytest

from controller.ocpp.reservations import Reservations, same_token
from controller.ocpp.transactions import timestamp
from controller.store.ocpp_reservations import ReservationStore

pytestmark = pytest.mark.timeout(10)

NOW = 1_800_000_000.0
ALICE = {"idToken": "ALICE", "type": "ISO14443"}
BOB = {"idToken": "BOB", "type": "ISO14443"}
FLEET = {"idToken": "FLEET-7", "type": "Central"}


class Station:
    """Reservations over a few EVSEs whose status and settings a test sets."""

    def __init__(self, types=None, store=None):
        self.now = NOW
        self.statuses = {evse: "Available" for evse in (types or {1: "cCCS1", 2: "cCCS1"})}
        self.settings = {"Enabled": True, "NonEvseSpecific": True}
        self.free_charging: set[int] = set()
        self.desk = Reservations(store, lambda: self.now, types or {1: "cCCS1", 2: "cCCS1"}, self.statuses.__getitem__,
                                 self.settings.__getitem__, lambda evse: evse not in self.free_charging)

    def reserve(self, rid, token=ALICE, evse=None, minutes=10, kind=None, group=None):
        return self.desk.reserve_now(rid, timestamp(self.now + 60 * minutes), token, evse_id=evse,
                                     connector_type=kind, group_id_token=group)

    def shown(self):
        return {evse: self.desk.status(evse, status) for evse, status in self.statuses.items()}


@pytest.mark.parametrize("status,expected", [("Available", "Accepted"), ("Occupied", "Occupied"),
                                             ("Faulted", "Faulted"), ("Unavailable", "Unavailable")])
def test_reserve_now_answers_after_the_evses_status(status, expected):
    station = Station()
    station.statuses[1] = status
    assert station.reserve(1, evse=1) == expected
    assert station.shown()[1] == ("Reserved" if expected == "Accepted" else status)


def test_a_reserved_evse_is_occupied_for_another_reservation_and_the_same_id_replaces():
    station = Station()
    assert station.reserve(1, evse=1) == "Accepted"
    assert station.reserve(2, token=BOB, evse=1) == "Occupied"
    assert station.reserve(1, token=BOB, evse=1) == "Accepted"  # same id: replaced
    assert [r.id_token for r in station.desk.active] == [BOB]


@pytest.mark.parametrize("case", ["disabled", "unknown evse", "other connector type", "expired already",
                                  "not evse specific off", "free charging"])
def test_reserve_now_rejected(case):
    station = Station()
    evse, kind, minutes = 1, None, 10
    if case == "disabled":
        station.settings["Enabled"] = False
    elif case == "unknown evse":
        evse = 9
    elif case == "other connector type":
        kind = "cTesla"
    elif case == "expired already":
        minutes = -1
    elif case == "not evse specific off":
        station.settings["NonEvseSpecific"], evse = False, None
    elif case == "free charging":
        station.free_charging.add(1)
    assert station.reserve(1, evse=evse, kind=kind, minutes=minutes) == "Rejected"
    assert station.desk.active == []


def test_connector_type_is_honoured_for_any_evse():
    station = Station({1: "cCCS1", 2: "cTesla"})
    assert station.reserve(1, kind="cTesla") == "Accepted"
    assert station.shown() == {1: "Available", 2: "Reserved"}  # the only cTesla EVSE is kept
    assert station.desk.may_use(2, BOB) is False and station.desk.may_use(1, BOB) is True
    assert station.reserve(2, token=BOB, kind="cTesla") == "Occupied"
    assert station.reserve(3, token=BOB, kind="sType2") == "Rejected"  # no such connector here


def test_reservations_for_any_evse_keep_one_free_evse_each():
    station = Station()
    assert station.reserve(1) == "Accepted"
    assert station.shown() == {1: "Available", 2: "Available"}  # two free for one reservation
    assert station.desk.may_use(1, BOB)  # BOB may take one; one stays for ALICE
    station.statuses[1] = "Occupied"  # BOB's car took EVSE 1
    assert station.shown()[2] == "Reserved"
    assert not station.desk.may_use(2, BOB) and station.desk.may_use(2, ALICE)
    assert station.reserve(2, token=BOB) == "Occupied"  # nothing left to keep for a second one
    station.statuses[2] = "Faulted"
    assert station.reserve(2, token=BOB) == "Occupied"
    station.statuses[1] = "Faulted"
    assert station.reserve(2, token=BOB) == "Faulted"


def test_only_the_reserved_token_or_its_group_may_use_the_evse():
    station = Station()
    assert station.reserve(5, evse=1, group=FLEET) == "Accepted"
    assert station.desk.may_use(1, ALICE) and station.desk.may_use(1, "alice")  # idTokens: no case
    assert not station.desk.may_use(1, BOB)
    assert station.desk.may_use(1, BOB, FLEET)  # another card of the same fleet
    assert not station.desk.may_use(1, {"idToken": "ALICE", "type": "Central"})  # another type: another token
    assert station.desk.may_use(2, BOB)  # the other EVSE is free
    assert station.desk.use(1, BOB) is None  # BOB cannot end ALICE's reservation
    assert station.desk.use(1, ALICE) == 5 and station.desk.active == []
    assert station.desk.may_use(1, BOB)


def test_expiry_and_removal_end_reservations_by_themselves():
    station = Station()
    station.reserve(1, evse=1, minutes=1)
    station.reserve(2, token=BOB, evse=2, minutes=5)
    assert station.desk.ended() == []
    station.now += 61
    assert station.desk.ended() == [(1, "Expired")]
    station.statuses[2] = "Unavailable"
    assert station.desk.ended() == [(2, "Removed")]
    assert station.shown() == {1: "Available", 2: "Unavailable"}


def test_a_connector_starting_unavailable_keeps_the_reservations_of_before_the_restart(tmp_path):
    path = tmp_path / "store.db"
    Station(store=ReservationStore(path)).reserve(4, evse=1)
    again = Station(store=ReservationStore(path))
    again.statuses[1] = "Unavailable"  # the connector's first state, until its I/O board answers
    assert again.desk.ended() == [] and again.shown()[1] == "Unavailable"
    again.statuses[1] = "Available"
    assert again.desk.ended() == [] and again.shown()[1] == "Reserved"
    again.statuses[1] = "Unavailable"  # out of service now: the reservation cannot be kept
    assert again.desk.ended() == [(4, "Removed")]


def test_cancel():
    station = Station()
    station.reserve(3, evse=2)
    assert station.desk.cancel(4) == "Rejected"
    assert station.desk.cancel(3) == "Accepted"
    assert station.shown()[2] == "Available"


def test_reservations_survive_a_restart(tmp_path):
    path = tmp_path / "store.db"
    station = Station(store=ReservationStore(path))
    station.reserve(7, evse=2, group=FLEET)
    station.reserve(8, token=BOB)
    station.desk.close()
    again = Station(store=ReservationStore(path))
    assert [(r.id, r.evse, r.id_token, r.group_id_token) for r in again.desk.active] == [
        (7, 2, ALICE, FLEET), (8, None, BOB, None)]
    assert again.shown()[2] == "Reserved"
    assert again.desk.use(2, ALICE) == 7
    again.desk.close()
    assert [r.id for r in Station(store=ReservationStore(path)).desk.active] == [8]


def test_same_token():
    assert same_token({"id_token": "a1", "type": "ISO14443"}, {"idToken": "A1", "type": "ISO14443"})
    assert not same_token(None, "A") and not same_token({"idToken": "A", "type": "Central"}, "B")
