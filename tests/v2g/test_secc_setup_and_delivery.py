"""SessionSetupRes's EVSEID in each schema's form and its time stamp; PowerDelivery's Start, Stop and the
Renegotiate we never offer (issue 19's surviving mutants of handlers/session_setup.py and power_delivery.py)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from controller.v2g.secc.handlers.session_setup import evse_id
from tests.v2g.test_secc_phases import walk
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)


def told(schema: str, answer_id: str | None, offer_id: str = ""):
    ctx = SimpleNamespace(schema=schema, offer=SimpleNamespace(evse_id=offer_id))
    return evse_id(ctx, SimpleNamespace(evse_id=answer_id))


@pytest.mark.parametrize("answer_id, offer_id, din", [
    ("US*EVSE*E1", "", b"US*EVSE*E1"),
    (None, "US*EVSE*E9", b"US*EVSE*E9"),                  # the cable's own when the connector has none
    ("", "", b"\x00"),                                     # none at all: one zero byte, as chargers send
    ("US*\u00c9VSE", "", b"US*?VSE"),                      # not ASCII: replaced, never an exception
    ("X" * 40, "", b"X" * 32),                             # hexBinary maxLength 32
])
def test_dins_evse_id_is_ascii_bytes_of_at_most_32(answer_id, offer_id, din):
    assert told("din", answer_id, offer_id) == din


@pytest.mark.parametrize("answer_id, iso2", [
    ("US*EVSE*E1", "US*EVSE*E1"),
    ("", "ZZ00000"),                                       # none: the standard's placeholder
    ("US1", "US10000"),                                    # minLength 7: padded with zeros on the right
    ("Y" * 40, "Y" * 37),                                  # maxLength 37
])
def test_iso2s_evse_id_is_between_7_and_37_characters(answer_id, iso2):
    assert told("iso2", answer_id) == iso2


@pytest.mark.parametrize("schema, field", [("din", "DateTimeNow"), ("iso2", "EVSETimeStamp")])
def test_session_setup_carries_the_time_now(schema, field):
    async def go():
        bench = Bench(schema)
        await bench.handshake()
        return await bench.ask("session_setup", evcc_id="0465650064c3")
    before = int(time.time())
    answer = asyncio.run(go())
    assert before <= getattr(answer, field) <= int(time.time())


def test_iso2_renegotiate_is_refused_and_the_session_shuts_down():
    async def go():
        bench = Bench("iso2")
        await walk(bench, "charging")
        name, body = bench.car.power_delivery(start=False)
        renegotiate = replace(body, ChargeProgress=bench.car.t.ChargeProgress.Renegotiate)
        return await bench.send(name, renegotiate), bench.conn.state
    refused, state = asyncio.run(go())
    assert refused.ResponseCode.value == "FAILED" and refused.DC_EVSEStatus is not None
    assert state != "charging"


def test_iso2_stop_is_served():
    async def go():
        bench = Bench("iso2")
        await walk(bench, "charging")
        return await bench.ask("power_delivery", start=False), bench.conn.state
    stopped, state = asyncio.run(go())
    assert stopped.ResponseCode.value == "OK" and state == "stopping"


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_welding_detection_tells_the_cable_voltage_while_it_falls(schema):
    async def go():
        bench = Bench(schema)
        await walk(bench, "charging")
        await bench.ask("power_delivery", start=False)
        bench.board.status = replace(bench.board.status, cable_voltage_v=123.4)
        return await bench.ask("welding_detection")
    answer = asyncio.run(go())
    assert answer.ResponseCode.value == "OK" and answer.DC_EVSEStatus is not None
    assert answer.EVSEPresentVoltage.Value * 10 ** answer.EVSEPresentVoltage.Multiplier == pytest.approx(123.4)
    assert answer.EVSEPresentVoltage.Unit.value == "V"
