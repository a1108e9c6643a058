"""The `ocpp` command and the network line of `status`: against a fake view, and against the desk cabinet
connected to the rig's CSMS on loopback."""
from __future__ import annotations

import asyncio
import json

import pytest

from controller.console.cabinet_view import NetworkMessage, NetworkState
from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.frame_log import FrameLog
from hil.csms import CsmsSimulator
from tests.console.harness import ask, ask_json, cabinet, connect, until
from tests.console.test_cabinet_view import FakeCabinet, _answers

pytestmark = pytest.mark.timeout(60)

PASSWORD = "console-password-0123456789"


class NetworkedCabinet(FakeCabinet):
    def __init__(self, state: NetworkState):
        super().__init__()
        self.state = state

    def network(self) -> NetworkState:
        return self.state


CONNECTED = NetworkState(
    configured=True, state="accepted", security_profile=2, url="wss://csms.example:443/ocpp", station_id="CAB-7",
    boot_status="Accepted", queue_length=3, connect_attempts=2,
    messages=tuple(NetworkMessage("out" if i % 2 == 0 else "in", f"Action{i}", 1_700_000_000.0 + i)
                   for i in range(14)))


def test_ocpp_shows_state_profile_url_boot_queue_and_the_last_messages():
    text, last_two, data, bad, too_many = _answers(NetworkedCabinet(CONNECTED),
                                                   ["ocpp", "ocpp 2", "json ocpp 3", "ocpp x", "ocpp 51"])
    assert "OCPP: accepted  station CAB-7  CSMS wss://csms.example:443/ocpp" in text
    assert "security profile 2  boot Accepted  queue 3  connection attempts 2" in text
    assert "Action13" in text and "Action4" in text and "Action3" not in text  # the last 10 by default
    assert "in   Action13" in text and "out  Action12" in text
    assert "Action13" in last_two and "Action12" in last_two and "Action11" not in last_two
    reply = json.loads(data)
    assert reply["ok"] and reply["data"]["queue_length"] == 3 and reply["data"]["boot_status"] == "Accepted"
    assert [m["action"] for m in reply["data"]["messages"]] == ["Action11", "Action12", "Action13"]
    assert reply["data"]["messages"][0] == {"direction": "in", "action": "Action11", "t": 1_700_000_011.0}
    assert bad.startswith("error: usage: ocpp [COUNT]") and too_many.startswith("error: usage: ocpp [COUNT]")


def test_status_ends_with_one_network_line():
    on, = _answers(NetworkedCabinet(CONNECTED), ["status"])
    off, off_json = _answers(FakeCabinet(), ["status", "json status"])
    assert on.splitlines()[-1] == "network: OCPP accepted  profile 2  boot Accepted  queue 3"
    assert off.splitlines()[-1] == "network: OCPP off (no [ocpp] url)"
    assert sum(line.startswith("network:") for line in on.splitlines()) == 1
    assert json.loads(off_json)["data"]["network"]["configured"] is False


def test_ocpp_without_a_csms_says_it_is_off():
    text, data = _answers(FakeCabinet(), ["ocpp", "json ocpp"])
    assert text == "OCPP: off (the cabinet file has no [ocpp] url)"
    assert json.loads(data)["data"]["configured"] is False


def test_the_frame_log_names_answers_by_the_call_they_answer_and_stays_bounded():
    log = FrameLog(kept=3)
    log.note("out", '[2,"a1","BootNotification",{}]', 1.0)
    log.note("in", '[3,"a1",{"status":"Accepted"}]', 2.0)
    log.note("in", '[2,"c1","RequestStartTransaction",{}]', 3.0)
    log.note("out", '[4,"c1","FormatViolation","",{}]', 4.0)
    log.note("in", "not json", 5.0)
    assert [(e.direction, e.action) for e in log.entries] == [
        ("in", "RequestStartTransaction"), ("out", "RequestStartTransaction error"), ("in", "unreadable")]
    for i in range(1000):  # CALLs never answered: the open-id memory stays bounded
        log.note("out", f'[2,"x{i}","Heartbeat",{{}}]', 6.0)
    assert len(log._open) <= 200


def test_the_desk_cabinet_shows_its_link_to_the_rig_csms(tmp_path):
    async def scenario():
        csms = CsmsSimulator(password=PASSWORD)
        url = await csms.start()
        ocpp = OcppConfig(url=url, station_id="DESK-1", password=PASSWORD, response_timeout_s=5.0,
                          retry_back_off_wait_minimum_s=0.05, retry_back_off_random_range_s=0.05)
        try:
            async with cabinet(tmp_path, ocpp=ocpp) as cab:
                await until(lambda: cab.app.ocpp.state == "accepted" and len(csms.calls("StatusNotification")) >= 1
                            and len(cab.app.ocpp.queue) == 0, "the station accepted")  # StartupOfTheDevice sent
                client = await connect(cab.path)
                try:
                    return await ask(client, "ocpp"), await ask_json(client, "json ocpp"), await ask(client, "status")
                finally:
                    client.close()
        finally:
            await csms.stop()

    text, reply, status = asyncio.run(scenario())
    assert "OCPP: accepted  station DESK-1  CSMS ws://127.0.0.1:" in text
    assert "boot Accepted  queue 0" in text
    assert "out  BootNotification" in text and "in   BootNotification result" in text
    assert "out  StatusNotification" in text
    data = reply["data"]
    assert data["state"] == "accepted" and data["security_profile"] == 1 and data["station_id"] == "DESK-1"
    assert PASSWORD not in json.dumps(reply) and PASSWORD not in text
    assert status.splitlines()[-1] == "network: OCPP accepted  profile 1  boot Accepted  queue 0"


def test_a_wrong_pin_at_the_console_reaches_the_csms_as_a_security_event(tmp_path):
    """Console -> app event -> OCPP service -> SecurityEventNotification, the console importing no OCPP."""
    async def scenario():
        csms = CsmsSimulator(password=PASSWORD)
        url = await csms.start()
        ocpp = OcppConfig(url=url, station_id="DESK-1", password=PASSWORD, response_timeout_s=5.0,
                          retry_back_off_wait_minimum_s=0.05, retry_back_off_random_range_s=0.05)
        try:
            async with cabinet(tmp_path, ocpp=ocpp) as cab:
                await until(lambda: cab.app.ocpp.state == "accepted", "the station accepted")
                client = await connect(cab.path)
                try:
                    await ask(client, "login 0000")
                finally:
                    client.close()
                await csms.wait_for(lambda: [e for e in csms.calls("SecurityEventNotification")
                                             if e["type"] == "MaintenanceLoginFailed"], 10)
        finally:
            await csms.stop()
        return csms

    csms = asyncio.run(scenario())
    failed = [e for e in csms.calls("SecurityEventNotification") if e["type"] == "MaintenanceLoginFailed"]
    assert len(failed) == 1 and "console" in failed[0]["techInfo"] and "0000" not in failed[0]["techInfo"]
    assert csms.violations == []
