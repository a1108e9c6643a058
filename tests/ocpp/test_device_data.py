"""DeviceDataCtrlr (ItemsPerMessage, BytesPerMessage per GetVariables / SetVariables / GetReport, enforced with
a CALLERROR) and ClockCtrlr (DateTime, TimeSource), against the rig's CSMS (every frame schema-checked)."""
from __future__ import annotations

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v201 import call

from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.device_data import BYTES_PER_MESSAGE, ITEMS_PER_MESSAGE
from controller.ocpp.device_model import DeviceModel
from controller.ocpp.transactions import timestamp
from controller.store.ocpp_variables import VariableStore
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms
from tests.ocpp.test_device_model import _accepted, _get, _set, item

pytestmark = pytest.mark.timeout(30)

NOW = 1_800_000_123.0


@run_async
async def test_limits_and_clock_are_read_and_the_clock_cannot_be_set():
    async with station_and_csms([FakeConnector(1)], clock=lambda: NOW) as (service, csms):
        await _accepted(service, csms)
        answers = await _get(csms, [
            item("DeviceDataCtrlr", "ItemsPerMessage", instance="GetVariables"),
            item("DeviceDataCtrlr", "BytesPerMessage", instance="SetVariables"),
            item("DeviceDataCtrlr", "ItemsPerMessage", instance="GetReport"),
            item("ClockCtrlr", "DateTime"), item("ClockCtrlr", "TimeSource"),
            item("DeviceDataCtrlr", "ItemsPerMessage")])  # no such instance
        assert answers == [("Accepted", str(ITEMS_PER_MESSAGE)), ("Accepted", str(BYTES_PER_MESSAGE)),
                           ("Accepted", str(ITEMS_PER_MESSAGE)), ("Accepted", timestamp(NOW)),
                           ("Accepted", "NTP,RealTimeClock"), ("UnknownVariable", None)]
        assert await _set(csms, [item("ClockCtrlr", "DateTime", attributeValue="2030-01-01T00:00:00Z"),
                                 item("ClockCtrlr", "TimeSource", attributeValue="Heartbeat"),
                                 item("DeviceDataCtrlr", "ItemsPerMessage", instance="GetVariables",
                                      attributeValue="5")]) == ["Rejected"] * 3
        assert (await csms.get_base_report(STATION, 9, "FullInventory")).status == "Accepted"
        await csms.wait_for(lambda: any(p["requestId"] == 9 and not p.get("tbc")
                                        for p in csms.calls("NotifyReport")), 5)
    reported = {(e["component"]["name"], e["variable"]["name"], e["variable"].get("instance")):
                e["variableAttribute"][0]["value"] for p in csms.calls("NotifyReport") for e in p["reportData"]}
    assert reported[("ClockCtrlr", "DateTime", None)] == timestamp(NOW)
    assert reported[("DeviceDataCtrlr", "ItemsPerMessage", "GetReport")] == str(ITEMS_PER_MESSAGE)
    assert csms.violations == []  # the NotifyReport parts, dateTime and all, are schema-valid


async def _refused(csms, payload) -> str:
    with pytest.raises(OCPPError) as refused:
        await csms.peer(STATION).call(payload, suppress=False)
    return refused.value.code


@run_async
async def test_requests_beyond_the_limits_get_a_callerror_and_change_nothing():
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        await _accepted(service, csms)
        many = [item("OCPPCommCtrlr", "HeartbeatInterval")] * (ITEMS_PER_MESSAGE + 1)
        assert await _refused(csms, call.GetVariables(get_variable_data=many)) == "OccurrenceConstraintViolation"
        setting = item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="77")
        assert await _refused(csms, call.SetVariables(set_variable_data=[setting] * (ITEMS_PER_MESSAGE + 1))) \
            == "OccurrenceConstraintViolation"
        padded = item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="7" * 1000)
        big = [padded] * (BYTES_PER_MESSAGE // 1000 + 1)  # under the items' limit, over the bytes'
        assert len(big) <= ITEMS_PER_MESSAGE
        assert await _refused(csms, call.SetVariables(set_variable_data=big)) == "FormatViolation"
        assert await _get(csms, [item("OCPPCommCtrlr", "HeartbeatInterval")]) != [("Accepted", "77")]
        just = [item("OCPPCommCtrlr", "HeartbeatInterval")] * ITEMS_PER_MESSAGE  # the limit itself is fine
        assert len(await _get(csms, just)) == ITEMS_PER_MESSAGE
        assert service.accepted and service.connect_attempts == 1  # the same link throughout
    assert csms.violations == []


def test_the_full_report_lists_both_controllers(tmp_path):
    model = DeviceModel(OcppConfig(url="ws://x"), STATION, {1: "CCS1"}, lambda evse: "Available",
                        VariableStore(tmp_path / "v.sqlite"))
    found = {(d["component"]["name"], d["variable"]["name"], d["variable"].get("instance")):
             (d["variableCharacteristics"]["dataType"], d["variableAttribute"][0]["mutability"])
             for d in model.report("FullInventory")}
    for action in ("GetVariables", "SetVariables", "GetReport"):
        assert found[("DeviceDataCtrlr", "ItemsPerMessage", action)] == ("integer", "ReadOnly")
        assert found[("DeviceDataCtrlr", "BytesPerMessage", action)] == ("integer", "ReadOnly")
    assert found[("ClockCtrlr", "DateTime", None)] == ("dateTime", "ReadOnly")
    assert found[("ClockCtrlr", "TimeSource", None)] == ("SequenceList", "ReadOnly")
    model.close()
