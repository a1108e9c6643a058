"""Reset (B11/B12): Immediate ends the transactions (ImmediateReset) and restarts; OnIdle waits for them
(Scheduled); an EVSE's reset is its connector's; the next BootNotification says RemoteReset; the controller
exits with its restart status only after every connector was powered off."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from ocpp.v201 import call

from controller.formats.exit_status import RESTART_REQUESTED
from controller.store.ocpp_station_state import StationStateStore
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms
from tests.ocpp.test_availability import SwitchableConnector

pytestmark = pytest.mark.timeout(30)


class StoppingConnector(FakeConnector):
    """A car that stops at once when asked: the connector leaves the powered states."""

    def request_stop(self, reason="user_stop"):
        if not super().request_stop(reason):
            return False
        self.move("session_end")
        return True


async def reset(csms, kind: str, evse: int | None = None):
    return await csms.peer(STATION).call(call.Reset(type=kind, evse_id=evse))


async def charging(csms, connector):
    await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
    for state in ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge",
                  "charging"):
        connector.move(state)
    await csms.wait_for(lambda: any(e["transactionInfo"]["chargingState"] == "Charging"
                                    for e in csms.calls("TransactionEvent")), 5)


@run_async
async def test_immediate_reset_stops_ends_the_transaction_and_restarts_as_remote_reset(tmp_path):
    restarts = []
    connector = StoppingConnector(1)
    state = StationStateStore(tmp_path / "store.db")
    async with station_and_csms([connector], station_state=state, restart=lambda: restarts.append(connector.state)) \
            as (service, csms):
        await charging(csms, connector)
        answer = await reset(csms, "Immediate")
        assert answer.status == "Accepted"
        await csms.wait_for(lambda: restarts, 5)
        ended = csms.calls("TransactionEvent")[-1]
    assert connector.stop_reasons == ["reset"]
    assert restarts == ["session_end"]  # the car had stopped: no powered state when the restart came
    assert ended["eventType"] == "Ended" and ended["triggerReason"] == "ResetCommand"
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    assert csms.calls("BootNotification")[0]["reason"] == "PowerUp"
    assert csms.violations == []
    state.close()

    state = StationStateStore(tmp_path / "store.db")  # the controller started again
    async with station_and_csms([StoppingConnector(1)], station_state=state) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert csms.calls("BootNotification")[0]["reason"] == "RemoteReset"
    state.close()
    state = StationStateStore(tmp_path / "store.db")  # and only once
    async with station_and_csms([StoppingConnector(1)], station_state=state) as (service, csms):
        await csms.wait_for(lambda: csms.calls("BootNotification"), 5)
        assert csms.calls("BootNotification")[0]["reason"] == "PowerUp"
    state.close()


@run_async
async def test_on_idle_reset_waits_for_the_transaction_to_end():
    restarts = []
    connector = StoppingConnector(1)
    async with station_and_csms([connector], restart=lambda: restarts.append(True)) as (service, csms):
        await charging(csms, connector)
        assert (await reset(csms, "OnIdle")).status == "Scheduled"
        await asyncio.sleep(0.3)
        assert restarts == [] and connector.state == "charging" and connector.stop_reasons == []
        for state in ("stopping", "welding_detection", "session_end", "available"):
            connector.move(state)
        await csms.wait_for(lambda: restarts, 5)
        ended = csms.calls("TransactionEvent")[-1]
    assert ended["eventType"] == "Ended" and ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert restarts == [True]
    assert csms.violations == []


@run_async
async def test_on_idle_reset_of_an_idle_station_restarts_at_once():
    restarts = []
    async with station_and_csms([FakeConnector(1)], restart=lambda: restarts.append(True)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await reset(csms, "OnIdle")).status == "Accepted"
        await csms.wait_for(lambda: restarts, 5)
        assert csms.calls("TransactionEvent") == []


class ResettableConnector(SwitchableConnector):
    """set_enabled as the real connector's, a car that stops at once, and every state it went through."""

    def __post_init__(self):
        super().__post_init__()
        self.states = []

    def move(self, state: str):
        super().move(state)
        self.states.append(self.state)

    def request_stop(self, reason="user_stop"):
        if not FakeConnector.request_stop(self, reason):
            return False
        self.move("session_end")
        return True


@run_async
async def test_an_evse_reset_ends_its_transaction_and_restarts_its_connector_only():
    restarts = []
    one, two = ResettableConnector(1), ResettableConnector(2)
    async with station_and_csms([one, two], restart=lambda: restarts.append(True)) as (service, csms):
        await charging(csms, one)
        two.move("plugged")
        await csms.wait_for(lambda: len({e["transactionInfo"]["transactionId"]
                                         for e in csms.calls("TransactionEvent")}) == 2, 5)
        one.states.clear()
        assert (await reset(csms, "Immediate", 1)).status == "Accepted"
        await csms.wait_for(lambda: one.states[-2:] == ["unavailable", "available"], 5)
        await csms.wait_for(lambda: csms.calls("StatusNotification")[-1]["connectorStatus"] == "Available", 5)
        ended = [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Ended"]
    assert one.stop_reasons == ["reset"] and one.states == ["session_end", "unavailable", "available"]
    assert len(ended) == 1 and ended[0]["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    assert ended[0]["triggerReason"] == "ResetCommand"
    tx = [e for e in csms.calls("TransactionEvent")
          if e["transactionInfo"]["transactionId"] == ended[0]["transactionInfo"]["transactionId"]]
    # the stop is still followed before the end: charging -> EVConnected, then Ended
    assert [(e["eventType"], e["transactionInfo"]["chargingState"]) for e in tx[-2:]] == [
        ("Updated", "EVConnected"), ("Ended", "EVConnected")]
    assert two.state == "plugged" and two.stop_reasons == [] and restarts == []  # the other EVSE, the station
    assert one.enabled and two.enabled
    assert csms.violations == []


@run_async
async def test_an_evse_reset_on_idle_waits_for_its_transaction():
    one = ResettableConnector(1)
    async with station_and_csms([one]) as (service, csms):
        await charging(csms, one)
        assert (await reset(csms, "OnIdle", 1)).status == "Scheduled"
        await asyncio.sleep(0.3)
        assert one.state == "charging" and one.stop_reasons == []
        for state in ("stopping", "welding_detection", "session_end", "available"):
            one.move(state)
        await csms.wait_for(lambda: one.states[-2:] == ["unavailable", "available"], 5)
        await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended", 5)
        ended = csms.calls("TransactionEvent")[-1]
    assert ended["eventType"] == "Ended" and ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"


@run_async
async def test_an_unknown_evse_or_a_station_that_cannot_restart_is_rejected():
    restarts = []
    async with station_and_csms([FakeConnector(1)], restart=lambda: restarts.append(True)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        answer = await reset(csms, "Immediate", 2)
        assert answer.status == "Rejected" and answer.status_info["reason_code"] == "UnknownEvse"
        await asyncio.sleep(0.2)
        assert restarts == []
    async with station_and_csms([FakeConnector(1)]) as (service, csms):  # no restart given
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await reset(csms, "Immediate")).status == "Rejected"
    assert csms.violations == []


def test_the_controller_powers_off_then_exits_with_the_restart_status():
    from controller.__main__ import _run
    from controller.systemd_notify import SystemdNotifier

    steps = []

    class App:
        connectors = []
        config = SimpleNamespace(name="test")
        restart_requested = asyncio.Event()

        async def start(self):
            asyncio.get_running_loop().call_later(0.05, self.restart_requested.set)  # the CSMS's Reset

        def subscribe(self, sink):
            pass

        def stopped_task(self):
            return None

        async def stop(self):
            steps.append("stop")  # ControllerApp.stop: power_off_now on every connector, then the rest

    async def main():
        App.restart_requested = asyncio.Event()
        status = await _run(App(), SystemdNotifier({}))
        steps.append(status)

    asyncio.run(main())
    assert steps == ["stop", RESTART_REQUESTED]
