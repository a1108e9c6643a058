"""UnlockConnector (F05): Unlocked, UnlockFailed (the connector's lock path refuses at 60 V and above),
OngoingAuthorizedTransaction, UnknownConnector."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from ocpp.v201 import call

from controller.connector.connector_lock import ConnectorLock
from controller.formats.cabinet.config import ChargingConfig
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


class LockBoard:
    """The I/O board as the lock sees it: a status with the cable voltage, and the lock commands given."""

    def __init__(self, volts: float):
        self.status = SimpleNamespace(cable_voltage_v=volts, lock_state="LOCKED")
        self.commands: list[bool] = []

    def set_lock(self, locked: bool) -> None:
        self.commands.append(locked)


class LockedConnector(FakeConnector):
    """The fake connector with the real lock path (ConnectorLock) behind unlock_on_request."""

    def __post_init__(self):
        super().__post_init__()
        self.board = LockBoard(0.0)
        self.lock = ConnectorLock(self.board, ChargingConfig())

    def unlock_on_request(self):
        return self.lock.unlock_on_request()


async def unlock(csms, evse: int, connector: int = 1):
    return await csms.peer(STATION).call(call.UnlockConnector(evse_id=evse, connector_id=connector))


@pytest.mark.parametrize("volts,unlocked", [(0.0, True), (59.9, True), (60.0, False), (400.0, False)])
def test_the_lock_opens_on_request_only_below_60_volts(volts, unlocked):
    board = LockBoard(volts)
    refused = ConnectorLock(board, ChargingConfig()).unlock_on_request()
    assert (refused is None) == unlocked
    assert board.commands == ([False] if unlocked else [])
    if not unlocked:
        assert f"{volts:.0f} V" in refused and "below 60 V" in refused


def test_no_board_status_means_no_unlock():
    board = LockBoard(0.0)
    board.status = None
    assert "unknown" in ConnectorLock(board, ChargingConfig()).unlock_on_request()
    assert board.commands == []


@run_async
async def test_unlock_answers():
    connector = LockedConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await unlock(csms, 2)).status == "UnknownConnector"
        assert (await unlock(csms, 1, 2)).status == "UnknownConnector"
        answer = await unlock(csms, 1)
        assert answer.status == "Unlocked" and connector.board.commands == [False]

        connector.board.status.cable_voltage_v = 450.0  # e.g. a welded contactor keeps the cable live
        answer = await unlock(csms, 1)
        assert answer.status == "UnlockFailed" and connector.board.commands == [False]
        assert answer.status_info["reason_code"] == "NotSafe"
        assert "450 V" in answer.status_info["additional_info"]

        connector.board.status.cable_voltage_v = 0.0
        connector.move("plugged")
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
        assert (await unlock(csms, 1)).status == "Unlocked"  # a transaction nobody authorized yet
        connector.authorize()
        answer = await unlock(csms, 1)
        assert answer.status == "OngoingAuthorizedTransaction" and connector.board.commands == [False, False]
    assert csms.violations == []


def test_the_real_connector_refuses_while_charging_and_unlocks_once_off():
    from dataclasses import replace

    from tests.connector.test_connector import make, to_charging

    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    assert board.locked
    commands = len(board.log)
    assert conn.unlock_on_request() == "the contactors are closed"
    assert board.locked and len(board.log) == commands
    conn.power_off_now()  # contactors open, but the cable still holds the car's voltage
    board.status = replace(board.status, cable_voltage_v=380.0)
    assert "380 V" in conn.unlock_on_request() and board.locked
    board.status = replace(board.status, cable_voltage_v=20.0)
    assert conn.unlock_on_request() is None and not board.locked
