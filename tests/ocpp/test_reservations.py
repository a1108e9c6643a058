"""Reservations over the link: ReserveNow, Reserved, a remote start by another token refused, the reserved
token's transaction carries reservationId, CancelReservation, expiry, removal, and a restart."""
from __future__ import annotations

import time

import pytest
from ocpp.v201 import call

from controller.ocpp.transactions import timestamp
from controller.store.ocpp_reservations import ReservationStore
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def statuses(csms, evse=1):
    return [s["connectorStatus"] for s in csms.calls("StatusNotification") if s["evseId"] == evse]


async def reserve(csms, rid, token, *, evse=1, expiry=None, **more):
    return await csms.peer(STATION).call(call.ReserveNow(
        id=rid, expiry_date_time=timestamp(expiry or time.time() + 600), id_token={"idToken": token, "type": "Central"},
        evse_id=evse, **more))


@run_async
async def test_a_reserved_evse_refuses_other_tokens_and_its_token_ends_the_reservation():
    connector = FakeConnector(1)
    async with station_and_csms([connector, FakeConnector(2)]) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2, 5)
        assert (await reserve(csms, 11, "ALICE")).status == "Accepted"
        await csms.wait_for(lambda: statuses(csms)[-1:] == ["Reserved"], 5)
        assert not service.may_use(1, {"idToken": "BOB", "type": "Central"}) and service.may_use(2, "BOB")
        assert (await csms.request_start(STATION, 1, "BOB", 1)).status == "Rejected"
        connector.move("plugged")  # ALICE's car arrives
        await csms.wait_for(lambda: csms.calls("TransactionEvent") and statuses(csms)[-1] == "Occupied", 5)
        assert (await csms.request_start(STATION, 1, "BOB", 2)).status == "Rejected"
        assert not connector.authorized
        assert (await csms.request_start(STATION, 1, "ALICE", 3)).status == "Accepted"
        assert connector.authorized
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= 2, 5)
        assert service.reservations.active == []
        connector.move("available")
        await csms.wait_for(lambda: statuses(csms)[-1] == "Available", 5)
    started, authorized = csms.calls("TransactionEvent")[:2]
    assert "reservationId" not in started
    assert authorized["reservationId"] == 11 and authorized["idToken"]["idToken"] == "ALICE"
    assert statuses(csms) == ["Available", "Reserved", "Occupied", "Available"]
    assert statuses(csms, 2) == ["Available"]
    assert csms.calls("ReservationStatusUpdate") == []  # used: no update
    assert csms.violations == []


@run_async
async def test_remote_start_without_an_evse_passes_over_one_reserved_for_another():
    connectors = [FakeConnector(1), FakeConnector(2)]
    async with station_and_csms(connectors) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2, 5)
        assert (await reserve(csms, 1, "ALICE", evse=1)).status == "Accepted"
        answer = await csms.peer(STATION).call(call.RequestStartTransaction(
            id_token={"idToken": "BOB", "type": "Central"}, remote_start_id=4))
        assert answer.status == "Accepted"
        assert list(service._pending_start) == [2]  # EVSE 1 is ALICE's
        # a reservation made before BOB's car arrives wins: the car is not authorized by the older remote start
        assert (await reserve(csms, 2, "CAROL", evse=2)).status == "Accepted"
        connectors[1].move("plugged")
        await csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Occupied"], 5)
        assert not connectors[1].authorized
    assert csms.violations == []


@run_async
async def test_group_id_token_of_a_remote_start_matches_the_reservation():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await reserve(csms, 3, "ALICE", group_id_token={"idToken": "FLEET", "type": "Central"})).status \
            == "Accepted"
        connector.move("plugged")
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
        answer = await csms.peer(STATION).call(call.RequestStartTransaction(
            id_token={"idToken": "BOB", "type": "Central"}, remote_start_id=5, evse_id=1,
            group_id_token={"idToken": "FLEET", "type": "Central"}))
        assert answer.status == "Accepted"
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= 2, 5)
    assert csms.calls("TransactionEvent")[1]["reservationId"] == 3
    assert csms.violations == []


@run_async
async def test_cancel_expiry_and_a_fault_end_reservations():
    clock = Clock()
    connectors = [FakeConnector(1), FakeConnector(2)]
    async with station_and_csms(connectors, clock=clock) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2, 5)
        assert (await reserve(csms, 1, "ALICE", evse=1, expiry=clock.now + 900)).status == "Accepted"
        assert (await reserve(csms, 2, "BOB", evse=2, expiry=clock.now + 900)).status == "Accepted"
        assert (await reserve(csms, 3, "CAROL", evse=1, expiry=clock.now + 900)).status == "Occupied"
        await csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Reserved"], 5)
        peer = csms.peer(STATION)
        assert (await peer.call(call.CancelReservation(reservation_id=9))).status == "Rejected"
        assert (await peer.call(call.CancelReservation(reservation_id=2))).status == "Accepted"
        await csms.wait_for(lambda: statuses(csms, 2)[-1] == "Available", 5)
        assert (await reserve(csms, 4, "DAVE", evse=2, expiry=clock.now + 1800)).status == "Accepted"
        clock.now += 901  # reservation 1 expires
        await csms.wait_for(lambda: csms.calls("ReservationStatusUpdate"), 5)
        await csms.wait_for(lambda: statuses(csms)[-1] == "Available", 5)
        connectors[1].faults.append("ESTOP_PRESSED")
        connectors[1].move("emergency")  # reservation 4's EVSE is out
        await csms.wait_for(lambda: len(csms.calls("ReservationStatusUpdate")) >= 2, 5)
    assert csms.calls("ReservationStatusUpdate") == [
        {"reservationId": 1, "reservationUpdateStatus": "Expired"},
        {"reservationId": 4, "reservationUpdateStatus": "Removed"}]
    assert statuses(csms, 1) == ["Available", "Reserved", "Available"]
    assert statuses(csms, 2) == ["Available", "Reserved", "Available", "Reserved", "Faulted"]
    assert service.reservations.active == []
    assert csms.violations == []


@run_async
async def test_a_reservation_outlives_a_restart_and_is_reported_at_boot(tmp_path):
    path = tmp_path / "store.db"
    async with station_and_csms([FakeConnector(1)], reservations=ReservationStore(path)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await reserve(csms, 21, "ALICE")).status == "Accepted"
        service.reservations.close()
    async with station_and_csms([FakeConnector(1)], reservations=ReservationStore(path)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert statuses(csms) == ["Reserved"]
        assert (await csms.request_start(STATION, 1, "BOB", 1)).status == "Rejected"
        service.reservations.close()
    assert csms.violations == []
