"""E05: a transaction started offline whose token the CSMS refuses once the link is back. StopTxOnInvalidId
true stops it (tests/ocpp/test_auth.py); false lets energy flow up to MaxEnergyOnInvalidId, then stops the
energy (EnergyLimitReached) and the transaction ends when the car leaves."""
from __future__ import annotations

import pytest

from controller.ocpp.invalid_id import InvalidIdLimits
from controller.ocpp.transactions import Transaction
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms
from tests.ocpp.test_auth import CARD, _authorized_events, _offline, _online, _var

pytestmark = pytest.mark.timeout(30)


@run_async
async def test_a_refused_offline_transaction_charges_up_to_max_energy_on_invalid_id_then_stops():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens["04A1B2C3"] = {"status": "Invalid"}
        await _online(service, csms)
        await csms.send_local_list(STATION, 1, "Full", [{"idToken": CARD, "idTokenInfo": {"status": "Accepted"}}])
        await csms.set_variables(STATION, [_var("TxCtrlr", "StopTxOnInvalidId", "false"),
                                           _var("TxCtrlr", "MaxEnergyOnInvalidId", "5000")])
        await _offline(service, csms)
        for state in ("plugged", "negotiating"):
            connector.move(state)
        assert (await service.identification.present(CARD, 1, "rfid")).outcome == "authorized"
        for state in ("authorizing", "parameter_discovery", "cable_check", "precharge", "charging"):
            connector.move(state)  # 1,500 Wh so far
        await csms.start()
        await csms.wait_for(lambda: _authorized_events(csms) and len(service.queue) == 0, 5)
        await csms.wait_for(lambda: service.invalid_id.capped, 5)
        assert connector.stop_reasons == []  # under the limit: the energy flows on
        connector.session.energy_wh = 5000.0
        await csms.wait_for(lambda: any(e["triggerReason"] == "EnergyLimitReached"
                                        for e in csms.calls("TransactionEvent")), 5)
        assert connector.stop_reasons == ["energy_limit"]
        assert all(e["eventType"] != "Ended" for e in csms.calls("TransactionEvent"))  # open while plugged in
        for state in ("stopping", "session_end", "available"):
            connector.move(state)
        await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended", 5)
    events = csms.calls("TransactionEvent")
    assert events[-1]["transactionInfo"]["stoppedReason"] == "EnergyLimitReached"
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert csms.violations == []


class Model:
    def __init__(self, stop: str, max_wh: float):
        self.stop, self.max_wh = stop, max_wh

    def get(self, component, variable, attribute):
        return "Accepted", self.stop

    def number(self, component, name, instance=None):
        return self.max_wh


def _limits(stop: str, max_wh: float, connector, tx):
    deauthorized, events = [], []
    limits = InvalidIdLimits({1: tx} if tx else {}, {1: connector}, Model(stop, max_wh), deauthorized.append,
                             lambda payload, t: events.append(payload), lambda: 1_800_000_000.0)
    return limits, deauthorized, events


def test_stop_tx_on_invalid_id_deauthorizes_and_an_ended_transaction_is_left_alone():
    connector, tx = FakeConnector(1), Transaction(1)
    limits, deauthorized, _ = _limits("true", 0, connector, tx)
    limits.rejected(tx.transaction_id)
    assert deauthorized == [tx.transaction_id] and limits.capped == {}
    limits, deauthorized, events = _limits("false", 0, connector, None)
    limits.rejected("gone")
    assert deauthorized == [] and limits.capped == {} and events == []


def test_a_limit_met_before_the_session_can_stop_is_tried_again_until_it_can():
    connector, tx = FakeConnector(1), Transaction(1)
    connector.state = "plugged"  # no session yet: request_stop refuses
    limits, _, events = _limits("false", 0, connector, tx)
    limits.rejected(tx.transaction_id)
    assert tx.transaction_id in limits.capped and events == []
    connector.move("negotiating")
    limits.check()
    assert connector.stop_reasons == ["energy_limit"] and limits.capped == {}
    assert [e["triggerReason"] for e in events] == ["EnergyLimitReached"]
