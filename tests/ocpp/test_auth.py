"""Block C against the rig's CSMS: Authorize, the local list, the cache and the offline rules."""
from __future__ import annotations

import pytest

from controller.store.ocpp_auth import AuthStore
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)

CARD = {"idToken": "04A1B2C3", "type": "ISO14443"}
OTHER = {"idToken": "0BADCAFE", "type": "ISO14443"}


def _var(component: str, name: str, value: str) -> dict:
    return {"component": {"name": component}, "variable": {"name": name}, "attributeValue": value}


async def _online(service, csms):
    await csms.wait_for(lambda: service.accepted and csms.calls("StatusNotification"), 5)


async def _offline(service, csms):
    await csms.stop()
    await csms.wait_for(lambda: not service.accepted, 5)


def _authorized_events(csms):
    return [e for e in csms.calls("TransactionEvent") if e["triggerReason"] == "Authorized"]


@run_async
async def test_a_card_the_csms_accepts_authorizes_the_waiting_car_and_the_event_carries_it():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens["04A1B2C3"] = {"status": "Accepted"}
        await _online(service, csms)
        connector.move("plugged")
        result = await service.identification.present(CARD, 1, "console")
        assert result.outcome == "authorized" and result.verdict.source == "csms"
        assert connector.authorized
        await csms.wait_for(lambda: _authorized_events(csms), 5)
    assert csms.calls("Authorize") == [{"idToken": CARD}]
    event = _authorized_events(csms)[0]
    assert event["idToken"] == CARD and event["eventType"] == "Updated"
    assert csms.violations == []


@run_async
async def test_a_refused_card_leaves_the_car_unauthorized_and_no_authorized_event():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens["04A1B2C3"] = {"status": "Blocked"}
        await _online(service, csms)
        connector.move("plugged")
        result = await service.identification.present(CARD, 1, "rfid")
        assert result.outcome == "refused" and "Blocked" in result.text
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
        # the refusal is remembered: offline the card stays refused even with unknown tokens allowed
        await csms.set_variables(STATION, [_var("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")])
        await _offline(service, csms)
        assert (await service.identification.present(CARD, 1, "rfid")).outcome == "refused"
    assert not connector.authorized
    assert _authorized_events(csms) == []


@run_async
async def test_local_list_full_differential_version_and_offline_use(tmp_path):
    connector = FakeConnector(1)
    store = AuthStore(tmp_path / "store.db")
    async with station_and_csms([connector], auth_store=store) as (service, csms):
        await _online(service, csms)
        full = [{"idToken": CARD, "idTokenInfo": {"status": "Accepted"}},
                {"idToken": OTHER, "idTokenInfo": {"status": "Accepted"}}]
        assert (await csms.send_local_list(STATION, 3, "Full", full)).status == "Accepted"
        assert (await csms.get_local_list_version(STATION)).version_number == 3
        assert (await csms.send_local_list(STATION, 3, "Differential", None)).status == "VersionMismatch"
        removal = [{"idToken": OTHER}]
        assert (await csms.send_local_list(STATION, 4, "Differential", removal)).status == "Accepted"
        entries = await csms.get_variables(STATION, [{"component": {"name": "LocalAuthListCtrlr"},
                                                      "variable": {"name": "Entries"}}])
        assert entries.get_variable_result[0]["attribute_value"] == "1"
        await _offline(service, csms)
        connector.move("plugged")
        assert (await service.identification.present(OTHER, 1, "rfid")).outcome == "refused"  # removed, unknown
        result = await service.identification.present(CARD, 1, "rfid")
        assert result.outcome == "authorized" and result.verdict.source == "local list"
        await csms.start()
        await csms.wait_for(lambda: _authorized_events(csms), 5)
    assert _authorized_events(csms)[0]["offline"] is True and _authorized_events(csms)[0]["idToken"] == CARD
    assert csms.calls("Authorize") == []
    store.close()
    async with station_and_csms([FakeConnector(1)], auth_store=AuthStore(tmp_path / "store.db")) as (service, _):
        assert service.authorization.local_list_version() == 4  # the list survives a restart
        assert service.device_model.get({"name": "LocalAuthListCtrlr"}, {"name": "Entries"}, None) == ("Accepted", "1")
        assert service.authorization.local_list.lookup(CARD) == {"status": "Accepted"}
        service.authorization.store.close()


@run_async
async def test_offline_unknown_tokens_only_with_offline_tx_for_unknown_id_enabled():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await _online(service, csms)
        await _offline(service, csms)
        connector.move("plugged")
        refused = await service.identification.present(CARD, 1, "rfid")
        assert refused.outcome == "refused" and refused.verdict.info["status"] == "Unknown"
        assert not connector.authorized
        await csms.start()
        await _online(service, csms)
        answer = await csms.set_variables(STATION, [_var("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")])
        assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
        await _offline(service, csms)
        accepted = await service.identification.present(CARD, 1, "rfid")
        assert accepted.outcome == "authorized" and connector.authorized


@run_async
async def test_the_cache_answers_offline_until_cleared():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens["04A1B2C3"] = {"status": "Accepted"}
        await _online(service, csms)
        assert (await service.identification.present(CARD, 1, "rfid")).outcome == "waiting"  # no car yet
        await _offline(service, csms)
        connector.move("plugged")  # the token shown before the plug-in authorizes the car now
        assert connector.authorized
        connector.move("available")
        connector.move("plugged")
        cached = await service.identification.present(CARD, 1, "rfid")
        assert cached.outcome == "authorized" and cached.verdict.source == "cache"
        connector.move("available")
        await csms.start()
        await _online(service, csms)
        assert (await csms.clear_cache(STATION)).status == "Accepted"
        await _offline(service, csms)
        connector.move("plugged")
        assert (await service.identification.present(CARD, 1, "rfid")).outcome == "refused"


@run_async
async def test_local_pre_authorize_starts_without_waiting_for_the_csms():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await _online(service, csms)
        await csms.send_local_list(STATION, 1, "Full", [{"idToken": CARD, "idTokenInfo": {"status": "Accepted"}}])
        connector.move("plugged")
        assert (await service.identification.present(CARD, 1, "rfid")).verdict.source == "csms"  # default: Authorize
        connector.move("available")
        await csms.set_variables(STATION, [_var("AuthCtrlr", "LocalPreAuthorize", "true")])
        connector.move("plugged")
        assert (await service.identification.present(CARD, 1, "rfid")).verdict.source == "local list"
    assert len(csms.calls("Authorize")) == 1


@run_async
async def test_a_transaction_event_answer_updates_the_cache():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens["04A1B2C3"] = {"status": "Accepted"}
        await _online(service, csms)
        connector.move("plugged")
        await service.identification.present(CARD, 1, "rfid")
        csms.tokens["04A1B2C3"] = {"status": "Blocked"}  # the CSMS changed its mind by the time the event came
        await csms.wait_for(lambda: _authorized_events(csms) and len(service.queue) == 0, 5)
        # the queue lets go of the event as the answer is read; the cache learns it once the sender resumes
        try:
            await csms.wait_for(lambda: service.authorization.cache.lookup(CARD, service.clock(), 3600)
                                == {"status": "Blocked"}, 5)
        except TimeoutError:
            pass
        info = service.authorization.cache.lookup(CARD, service.clock(), 3600)
    assert info == {"status": "Blocked"}


@run_async
async def test_auth_variables_are_reported_and_checked():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await _online(service, csms)
        names = [("AuthCtrlr", "LocalAuthorizeOffline"), ("AuthCtrlr", "LocalPreAuthorize"),
                 ("AuthCtrlr", "OfflineTxForUnknownIdEnabled"), ("AuthCtrlr", "AuthorizeRemoteStart"),
                 ("AuthCacheCtrlr", "Enabled"), ("AuthCacheCtrlr", "LifeTime"), ("LocalAuthListCtrlr", "Enabled")]
        got = await csms.get_variables(STATION, [{"component": {"name": c}, "variable": {"name": n}}
                                                 for c, n in names])
        values = [r.get("attribute_value") for r in got.get_variable_result]
        assert values == ["true", "false", "false", "false", "true", "86400", "true"]
        bad = await csms.set_variables(STATION, [_var("AuthCtrlr", "LocalPreAuthorize", "maybe"),
                                                 _var("AuthCacheCtrlr", "LifeTime", "0")])
        assert [r["attribute_status"] for r in bad.set_variable_result] == ["Rejected", "Rejected"]
        await csms.get_base_report(STATION, 5, "ConfigurationInventory")
        await csms.wait_for(lambda: csms.calls("NotifyReport") and not csms.calls("NotifyReport")[-1].get("tbc"), 5)
    reported = {(d["component"]["name"], d["variable"]["name"]) for r in csms.calls("NotifyReport")
                for d in r.get("reportData", [])}
    assert set(names) <= reported
    assert csms.violations == []


@run_async
async def test_authorize_remote_start_checks_the_remote_token_first():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens.update({"GOOD": {"status": "Accepted"}, "BAD": {"status": "Blocked"}})
        await _online(service, csms)
        await csms.set_variables(STATION, [_var("AuthCtrlr", "AuthorizeRemoteStart", "true")])
        connector.move("plugged")
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
        assert (await csms.request_start(STATION, 1, "BAD", 1)).status == "Accepted"
        await csms.wait_for(lambda: len(csms.calls("Authorize")) == 1 and len(service.identification._tasks) == 0, 5)
        assert not connector.authorized  # a refused token never lets the car go ahead
        assert (await csms.request_start(STATION, 1, "GOOD", 2)).status == "Accepted"
        await csms.wait_for(lambda: connector.authorized, 5)
        await csms.wait_for(lambda: any(e["triggerReason"] == "RemoteStart" for e in csms.calls("TransactionEvent")), 5)
    remote = [e for e in csms.calls("TransactionEvent") if e["triggerReason"] == "RemoteStart"]
    assert len(remote) == 1 and remote[0]["idToken"]["idToken"] == "GOOD"
    assert [a["idToken"]["idToken"] for a in csms.calls("Authorize")] == ["BAD", "GOOD"]


@run_async
async def test_autocharge_presents_the_cars_evccid_as_a_mac_address_token():
    from controller.connector.session import SessionRecord
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        service.identification.autocharge = True
        csms.tokens["0A:1B:2C:3D:4E:5F"] = {"status": "Accepted"}
        await _online(service, csms)
        connector.move("plugged")
        connector.session = SessionRecord(connector_id=1, start_t=0.0, evcc_id="0a1b2c3d4e5f")
        connector.move("negotiating")
        connector.move("authorizing")  # a second phase event of the same session: no second Authorize
        await csms.wait_for(lambda: _authorized_events(csms), 5)
    assert connector.authorized
    assert csms.calls("Authorize") == [{"idToken": {"idToken": "0A:1B:2C:3D:4E:5F", "type": "MacAddress"}}]
    assert _authorized_events(csms)[0]["idToken"]["type"] == "MacAddress"


@run_async
async def test_without_autocharge_the_evccid_is_not_a_token():
    from controller.connector.session import SessionRecord
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await _online(service, csms)
        connector.move("plugged")
        connector.session = SessionRecord(connector_id=1, start_t=0.0, evcc_id="0a1b2c3d4e5f")
        connector.move("negotiating")
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= 1 and len(service.queue) == 0, 5)
    assert csms.calls("Authorize") == [] and not connector.authorized


@pytest.mark.parametrize("stop", [True, False])
@run_async
async def test_a_token_accepted_offline_and_refused_by_the_csms_later_stops_the_transaction(stop):
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens["04A1B2C3"] = {"status": "Blocked"}  # the CSMS blocked the card; the station's list is old
        await _online(service, csms)
        await csms.send_local_list(STATION, 1, "Full", [{"idToken": CARD, "idTokenInfo": {"status": "Accepted"}}])
        if not stop:
            await csms.set_variables(STATION, [_var("TxCtrlr", "StopTxOnInvalidId", "false")])
        await _offline(service, csms)
        for state in ("plugged", "negotiating"):
            connector.move(state)
        assert (await service.identification.present(CARD, 1, "rfid")).outcome == "authorized"
        for state in ("authorizing", "parameter_discovery", "cable_check", "precharge", "charging"):
            connector.move(state)
        await csms.start()
        await csms.wait_for(lambda: _authorized_events(csms) and len(service.queue) == 0, 5)
        if stop:
            await csms.wait_for(lambda: any(e["triggerReason"] == "Deauthorized"
                                            for e in csms.calls("TransactionEvent")), 5)
        for state in ("stopping", "session_end", "available"):
            connector.move(state)
        await csms.wait_for(lambda: any(e["eventType"] == "Ended" for e in csms.calls("TransactionEvent")), 5)
    # without StopTxOnInvalidId the energy stops at MaxEnergyOnInvalidId (0 by default): tests/ocpp/test_invalid_id.py
    assert connector.stop_reasons == (["deauthorized"] if stop else ["energy_limit"])
    ended = csms.calls("TransactionEvent")[-1]
    assert ended["transactionInfo"]["stoppedReason"] == ("DeAuthorized" if stop else "EnergyLimitReached")
    assert csms.violations == []


@run_async
async def test_the_same_card_again_stops_the_charge_it_started_and_another_card_does_not():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens.update({"04A1B2C3": {"status": "Accepted"}, "0BADCAFE": {"status": "Accepted"}})
        await _online(service, csms)
        for state in ("plugged", "negotiating", "authorizing"):
            connector.move(state)
        assert (await service.identification.present(CARD, None, "rfid")).outcome == "authorized"
        for state in ("parameter_discovery", "cable_check", "precharge", "charging"):
            connector.move(state)
        other = await service.identification.present(OTHER, None, "rfid")
        assert other.outcome == "not used" and connector.stop_reasons == []
        stopped = await service.identification.present(CARD, None, "rfid")
        assert stopped.outcome == "stopped" and connector.stop_reasons == ["token_stop"]
        for state in ("stopping", "session_end", "available"):
            connector.move(state)
        await csms.wait_for(lambda: any(e["eventType"] == "Ended" for e in csms.calls("TransactionEvent")), 5)
    triggers = [e["triggerReason"] for e in csms.calls("TransactionEvent")]
    assert "StopAuthorized" in triggers
    assert csms.calls("TransactionEvent")[-1]["transactionInfo"]["stoppedReason"] == "Local"
    assert len(csms.calls("Authorize")) == 1  # the stop needs no Authorize: the same token
    assert csms.violations == []
