"""Boot, status and a remote-started transaction between the station and the rig's CSMS, over ws and wss."""
from __future__ import annotations

import asyncio
import json

import pytest

from hil.csms import CsmsSimulator
from hil.csms.test_ca import issue_station_cert, make_test_ca
from tests.ocpp.harness import PASSWORD, STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


async def _remote_session(service, csms, connector):
    await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
    assert csms.calls("StatusNotification")[0]["connectorStatus"] == "Available"
    connector.move("plugged")
    started = await csms.wait_for(lambda: csms.calls("TransactionEvent"), 5)
    tx_id = started[0]["transactionInfo"]["transactionId"]
    answer = await csms.request_start(STATION, 1, "TOKEN-1", 7)
    assert answer.status == "Accepted" and answer.transaction_id == tx_id
    assert connector.authorized
    for state in ("negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge", "charging"):
        connector.move(state)
    await csms.wait_for(lambda: any(e["transactionInfo"]["chargingState"] == "Charging"
                                    for e in csms.calls("TransactionEvent")), 5)
    stop = await csms.request_stop(STATION, tx_id)
    assert stop.status == "Accepted" and connector.stop_reasons == ["remote"]
    for state in ("stopping", "welding_detection", "session_end", "available"):
        connector.move(state)
    await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended"
                        and csms.calls("StatusNotification")[-1]["connectorStatus"] == "Available", 5)
    return csms.calls("TransactionEvent")


def _check_remote_session(events):
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert events[0]["eventType"] == "Started" and events[0]["triggerReason"] == "CablePluggedIn"
    remote = next(e for e in events if e["triggerReason"] == "RemoteStart")
    assert remote["idToken"] == {"idToken": "TOKEN-1", "type": "Central"}
    assert remote["transactionInfo"]["remoteStartId"] == 7
    end = events[-1]
    assert end["transactionInfo"]["stoppedReason"] == "Remote"
    assert end["meterValue"][0]["sampledValue"][0]["measurand"] == "Energy.Active.Import.Register"
    assert not any(e.get("offline") for e in events)


@run_async
async def test_remote_start_over_ws_profile_1():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        events = await _remote_session(service, csms, connector)
    _check_remote_session(events)
    assert csms.violations == []
    assert [c["connectorStatus"] for c in csms.calls("StatusNotification")] == ["Available", "Occupied",
                                                                                 "Available"]


@run_async
async def test_remote_start_over_wss_profile_2(tmp_path):
    connector = FakeConnector(1)
    csms = CsmsSimulator(password=PASSWORD, tls=make_test_ca(tmp_path / "ca"), jsonl=tmp_path / "traffic.jsonl")
    async with station_and_csms([connector], csms=csms) as (service, csms):
        events = await _remote_session(service, csms, connector)
    _check_remote_session(events)
    assert csms.violations == []
    assert len((tmp_path / "traffic.jsonl").read_text().splitlines()) == len(csms.traffic)


@run_async
async def test_profile_2_refuses_a_csms_outside_the_configured_root(tmp_path):
    connector = FakeConnector(1)
    other = make_test_ca(tmp_path / "other")
    csms = CsmsSimulator(password=PASSWORD, tls=make_test_ca(tmp_path / "ca"))
    async with station_and_csms([connector], csms=csms, csms_root_file=str(other.root_file)) as (service, csms):
        await asyncio.sleep(0.5)
        assert service.connect_attempts >= 2 and not service.accepted
    assert csms.calls("BootNotification") == []


@run_async
async def test_a_wrong_password_gets_no_link():
    connector = FakeConnector(1)
    csms = CsmsSimulator(password="another-password-0123")
    async with station_and_csms([connector], csms=csms) as (service, csms):
        await csms.wait_for(lambda: csms.refused_logins >= 2, 5)
        assert not service.accepted


@run_async
async def test_nothing_but_boot_before_accepted():
    connector = FakeConnector(1)
    csms = CsmsSimulator(password=PASSWORD, boot_statuses=(("Pending", 1), ("Rejected", 1)))
    async with station_and_csms([connector], csms=csms) as (service, csms):
        connector.move("plugged")  # a transaction starts before the CSMS accepted the station
        await csms.wait_for(lambda: csms.calls("TransactionEvent"), 10)
    actions = [json.loads(e["frame"])[2] for e in csms.traffic if e["dir"] == "in"]
    assert actions[:3] == ["BootNotification"] * 3 and "BootNotification" not in actions[3:]
    assert csms.calls("TransactionEvent")[0]["offline"] is True  # made while not accepted
    assert csms.violations == []


@run_async
async def test_remote_start_before_the_plug_authorizes_at_plug_in():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        answer = await csms.request_start(STATION, 1, "EARLY", 3)
        assert answer.status == "Accepted" and answer.transaction_id is None
        connector.move("plugged")
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= 2, 5)
    assert connector.authorized
    assert csms.calls("TransactionEvent")[1]["triggerReason"] == "RemoteStart"


@run_async
async def test_faulted_connector_rejects_remote_start_and_reports_faulted():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.faults.append("ESTOP")
        connector.move("emergency")
        await csms.wait_for(lambda: csms.calls("StatusNotification")[-1]["connectorStatus"] == "Faulted", 5)
        answer = await csms.request_start(STATION, 1, "T", 1)
        assert answer.status == "Rejected"


@run_async
async def test_heartbeat_at_the_interval_the_csms_gave():
    connector = FakeConnector(1)
    csms = CsmsSimulator(password=PASSWORD, heartbeat_s=1)
    async with station_and_csms([connector], csms=csms) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("Heartbeat")) >= 2, 5)
    times = [e["t"] for e in csms.traffic if e["dir"] == "in" and '"Heartbeat"' in e["frame"]]
    boot_t = next(e["t"] for e in csms.traffic if '"BootNotification"' in e["frame"])
    assert 0.8 <= times[0] - boot_t <= 1.6 and 0.8 <= times[1] - times[0] <= 1.6


@run_async
async def test_remote_start_over_wss_profile_3_mutual_tls(tmp_path):
    connector = FakeConnector(1)
    ca = make_test_ca(tmp_path / "ca")
    cert, key = issue_station_cert(ca, STATION, tmp_path / "station")
    csms = CsmsSimulator(tls=ca, client_certs=True)
    async with station_and_csms([connector], csms=csms, security_profile=3, client_cert_file=str(cert),
                                client_key_file=str(key)) as (service, csms):
        events = await _remote_session(service, csms, connector)
    _check_remote_session(events)
    assert csms.violations == [] and csms.refused_logins == 0


@run_async
async def test_profile_3_refuses_a_certificate_of_another_station(tmp_path):
    connector = FakeConnector(1)
    ca = make_test_ca(tmp_path / "ca")
    cert, key = issue_station_cert(ca, "SOMEONE-ELSE", tmp_path / "station")
    csms = CsmsSimulator(tls=ca, client_certs=True)
    async with station_and_csms([connector], csms=csms, security_profile=3, client_cert_file=str(cert),
                                client_key_file=str(key)) as (service, csms):
        await csms.wait_for(lambda: csms.refused_logins >= 2, 5)
        assert not service.accepted


@run_async
async def test_profile_3_without_a_station_certificate_gets_no_link(tmp_path):
    connector = FakeConnector(1)
    ca = make_test_ca(tmp_path / "ca")
    csms = CsmsSimulator(password=PASSWORD, tls=ca, client_certs=True)
    async with station_and_csms([connector], csms=csms) as (service, csms):  # profile 2: no client certificate
        await asyncio.sleep(0.5)
        assert service.connect_attempts >= 2 and not service.accepted
    assert csms.calls("BootNotification") == []
