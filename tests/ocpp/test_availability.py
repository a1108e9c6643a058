"""ChangeAvailability (G03/G04): station, EVSE and connector; Scheduled while a transaction runs; kept across a
restart; every change told by StatusNotification."""
from __future__ import annotations

import pytest
from ocpp.v201 import call

from controller.store.ocpp_station_state import StationStateStore
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


class SwitchableConnector(FakeConnector):
    """The real Connector's set_enabled: disable works only without a session, enable only from unavailable."""

    def __post_init__(self):
        super().__post_init__()
        self.enabled = True

    def set_enabled(self, enabled: bool, *, maintenance: bool = False):
        self.enabled = enabled
        if not enabled and self.state in ("available", "plugged", "session_end"):
            self.move("unavailable")
        elif enabled and self.state == "unavailable":
            self.move("available")

    def move(self, state: str):
        if state == "available" and not self.enabled:  # cp_unplugged of a disabled connector
            state = "unavailable"
        super().move(state)


async def change(csms, status: str, evse: int | None = None, connector: int | None = None) -> str:
    target = None if evse is None else {"id": evse, **({"connectorId": connector} if connector else {})}
    answer = await csms.peer(STATION).call(call.ChangeAvailability(operational_status=status, evse=target))
    return answer.status


def statuses(csms, evse: int) -> list[str]:
    return [s["connectorStatus"] for s in csms.calls("StatusNotification") if s["evseId"] == evse]


async def ready(csms, count: int = 1):
    await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= count, 5)


@run_async
async def test_connector_inoperative_then_operative_when_idle():
    connector = SwitchableConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await ready(csms)
        assert await change(csms, "Inoperative", 1, 1) == "Accepted"
        assert connector.state == "unavailable" and not connector.enabled
        await csms.wait_for(lambda: statuses(csms, 1)[-1] == "Unavailable", 5)
        assert await change(csms, "Inoperative", 1, 1) == "Accepted"  # already so
        assert await change(csms, "Operative", 1) == "Accepted"
        assert connector.state == "available" and connector.enabled
        await csms.wait_for(lambda: statuses(csms, 1)[-1] == "Available", 5)
    assert statuses(csms, 1) == ["Available", "Unavailable", "Available"]
    assert csms.violations == []


@run_async
async def test_inoperative_during_a_transaction_is_scheduled_and_made_when_it_ends():
    connector = SwitchableConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await ready(csms)
        connector.move("plugged")
        connector.move("negotiating")
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
        assert await change(csms, "Inoperative", 1) == "Scheduled"
        assert connector.state == "negotiating" and connector.enabled  # the session goes on
        connector.move("session_end")
        connector.move("available")  # unplugged: the transaction ends
        await csms.wait_for(lambda: connector.state == "unavailable", 5)
        await csms.wait_for(lambda: statuses(csms, 1)[-1] == "Unavailable", 5)
        assert csms.calls("TransactionEvent")[-1]["eventType"] == "Ended"
    # never Available between the end and the change
    assert statuses(csms, 1) == ["Available", "Occupied", "Unavailable"]
    assert csms.violations == []


@run_async
async def test_station_inoperative_keeps_each_evse_setting():
    one, two, three = SwitchableConnector(1), SwitchableConnector(2), SwitchableConnector(3)
    async with station_and_csms([one, two, three]) as (service, csms):
        await ready(csms, 3)
        assert await change(csms, "Inoperative", 3) == "Accepted"
        one.move("plugged")
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
        assert await change(csms, "Inoperative") == "Scheduled"  # EVSE 1 has a transaction
        assert (one.state, two.state, three.state) == ("plugged", "unavailable", "unavailable")
        one.move("available")
        await csms.wait_for(lambda: one.state == "unavailable", 5)
        assert service.device_model.get({"name": "ChargingStation"}, {"name": "AvailabilityState"}, None) \
            == ("Accepted", "Unavailable")
        assert await change(csms, "Operative") == "Accepted"
        assert (one.state, two.state, three.state) == ("available", "available", "unavailable")  # 3's own word
        await csms.wait_for(lambda: statuses(csms, 2)[-1] == "Available", 5)
    assert statuses(csms, 3) == ["Available", "Unavailable"]
    assert csms.violations == []


@run_async
async def test_unknown_evse_or_connector_is_rejected():
    connector = SwitchableConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await ready(csms)
        assert await change(csms, "Inoperative", 2) == "Rejected"
        assert await change(csms, "Inoperative", 1, 2) == "Rejected"
        assert connector.state == "available"


@run_async
async def test_operative_leaves_a_connector_the_technician_disabled():
    connector = SwitchableConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await ready(csms)
        connector.set_enabled(False, maintenance=True)  # the console's `disable`
        assert await change(csms, "Operative", 1) == "Accepted"
        assert connector.state == "unavailable" and not connector.enabled


@run_async
async def test_inoperative_is_kept_across_a_restart(tmp_path):
    path = tmp_path / "store.db"
    connector = SwitchableConnector(1)
    state = StationStateStore(path)
    async with station_and_csms([connector], station_state=state) as (service, csms):
        await ready(csms)
        assert await change(csms, "Inoperative", 1) == "Accepted"
    state.close()
    after = SwitchableConnector(1, state="unavailable")  # a connector starts unavailable until its board answers
    after.enabled = True
    state = StationStateStore(path)
    async with station_and_csms([after], station_state=state) as (service, csms):
        assert not after.enabled  # taken out before any car could start
        await ready(csms)
        assert statuses(csms, 1) == ["Unavailable"]
        assert await change(csms, "Operative", 1) == "Accepted"
        assert after.enabled and after.state == "available"
    state.close()


def test_the_real_connector_goes_out_of_service_and_back_through_set_enabled():
    """Availability with the real Connector (tests/connector's fake drivers): unavailable with 100 % PWM (no
    car can start), back to available on Operative; a charging connector is left alone until its end."""
    from controller.ocpp.availability import Availability
    from tests.connector.test_connector import make, to_charging

    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.state == "available"
    busy: set[int] = set()
    availability = Availability({1: conn}, StationStateStore(), lambda evse: evse in busy)
    assert availability.change("Inoperative", 1, None) == "Accepted"
    assert conn.state == "unavailable" and not conn.can_offer_service() and board.pwm == 100.0
    assert availability.change("Operative", None, None) == "Accepted"
    assert conn.state == "unavailable"  # the station's word does not undo the EVSE's own
    assert availability.change("Operative", 1, None) == "Accepted"
    assert conn.state == "available"

    conn2, board2, group2, clock2, _ = make()
    to_charging(conn2, board2, group2, clock2)
    busy.add(1)
    availability = Availability({1: conn2}, StationStateStore(), lambda evse: evse in busy)
    assert availability.change("Inoperative", 1, None) == "Scheduled"
    assert conn2.state == "charging" and conn2.enabled  # charging goes on
