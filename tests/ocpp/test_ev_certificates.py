"""Get15118EVCertificate (M02/M03): the SECC's request relayed to the CSMS, the exiResponse returned as bytes;
None (the SECC answers FAILED) on Failed, offline, a request too long for the schema (issue #17)."""
from __future__ import annotations

import base64

import pytest

from controller.ocpp.ev_certificates import EXI_REQUEST_MAX, EvCertificateRelay
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)
ISO2_NS = "urn:iso:15118:2:2013:MsgDef"


@run_async
async def test_the_request_goes_out_base64_and_the_answer_comes_back_as_bytes():
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        asked = []

        async def answer(action, exi_request):
            asked.append((action, base64.b64decode(exi_request)))
            return "Accepted", base64.b64encode(b"\x80\x98signed answer").decode()
        csms.ev_certificate_answer = answer
        got = await service.ev_certificates.ev_certificate("Install", ISO2_NS, b"\x80\x98car request")
        updated = await service.ev_certificates.ev_certificate("Update", ISO2_NS, b"\x80\x98update")
        sent = csms.calls("Get15118EVCertificate")

        async def refuse(action, exi_request):
            return "Failed", ""
        csms.ev_certificate_answer = refuse
        refused = await service.ev_certificates.ev_certificate("Install", ISO2_NS, b"\x80\x98car request")
    assert got == updated == b"\x80\x98signed answer" and refused is None
    assert asked == [("Install", b"\x80\x98car request"), ("Update", b"\x80\x98update")]
    assert sent[0]["iso15118SchemaVersion"] == ISO2_NS and sent[0]["action"] == "Install"
    assert csms.violations == []


@run_async
async def test_offline_or_too_long_is_none_without_a_call():
    calls = []

    async def call_now(payload):
        calls.append(payload)
        return None  # what the service's call_now gives without an accepted link
    relay = EvCertificateRelay(call_now)
    assert await relay.ev_certificate("Install", ISO2_NS, b"x") is None and len(calls) == 1
    too_long = bytes(EXI_REQUEST_MAX // 4 * 3 + 3)
    assert await relay.ev_certificate("Install", ISO2_NS, too_long) is None and len(calls) == 1
