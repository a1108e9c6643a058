"""The real controller with its store: a value the CSMS set by SetVariables is still in force after the
controller restarts on the same store, and the store file keeps working for its other readers."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.cabinet.config import OcppConfig
from hil.csms import CsmsSimulator
from tests.console.harness import cabinet, until

pytestmark = pytest.mark.timeout(90)
PASSWORD = "store-password-0123456789"
STATION = "DESK-STORE"
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
PING = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "WebSocketPingInterval"}}


def test_a_set_variable_survives_a_controller_restart(tmp_path):
    async def scenario():
        csms = CsmsSimulator(password=PASSWORD)
        url = await csms.start()
        ocpp = OcppConfig(url=url, station_id=STATION, password=PASSWORD, response_timeout_s=5.0,
                          retry_back_off_wait_minimum_s=0.05, retry_back_off_random_range_s=0.05)
        answers = []
        try:
            for run in range(2):
                async with cabinet(tmp_path, store=True, ocpp=ocpp) as cab:
                    await until(lambda: cab.app.ocpp.state == "accepted" and STATION in csms.stations,
                                "the station accepted")
                    if run == 0:
                        answer = await csms.set_variables(STATION, [{**HEARTBEAT, "attributeValue": "123"},
                                                                    {**PING, "attributeValue": "11"}])
                        answers.append([r["attribute_status"] for r in answer.set_variable_result])
                    answer = await csms.get_variables(STATION, [HEARTBEAT, PING])
                    answers.append([r.get("attribute_value") for r in answer.get_variable_result])
                    answers.append(cab.app.ocpp.cfg.websocket_ping_interval_s)
                    csms.stations.clear()  # the next start connects anew under the same id
        finally:
            await csms.stop()
        assert csms.violations == []
        return answers

    answers = asyncio.run(scenario())
    assert answers[0] == ["Accepted", "RebootRequired"]
    assert answers[1] == ["123", "11"] and answers[2] == 30.0  # the ping interval waits for the restart
    assert answers[3] == ["123", "11"] and answers[4] == 11.0  # after the restart both are in force
