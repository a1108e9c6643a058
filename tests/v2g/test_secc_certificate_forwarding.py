"""CertificateInstallationReq / CertificateUpdateReq after a Contract selection: forwarded as received to the
certificate provider (OCPP Get15118EVCertificate), its EXI answer sent to the car byte for byte; FAILED with
placeholders, in time for the car's 5 s, when the provider refuses, fails or is silent (issue #17)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from controller.connector.ev_session import Answer
from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from controller.v2g.secc import certificate_provider, session as secc_session
from controller.v2g.secc.handlers import HANDLERS, Handler
from controller.v2g.secc.handlers.service_selection import respond_selection
from tests.v2g.test_secc_service_detail import PLUG_AND_CHARGE_REQUESTS, _discovered, _send
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)
ISO2_NS = "urn:iso:15118:2:2013:MsgDef"


class Provider:
    def __init__(self, answer=b"", *, delay_s: float = 0.0, fail: bool = False):
        self.answer, self.delay_s, self.fail = answer, delay_s, fail
        self.asked: list[tuple[str, str, bytes]] = []

    async def ev_certificate(self, action: str, namespace: str, exi_request: bytes) -> bytes | None:
        self.asked.append((action, namespace, exi_request))
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("the provider broke")
        return self.answer


@pytest.fixture
def contract_accepted(monkeypatch):
    """Contract selection accepted (the PaymentDetails/Authorization work builds it; here a stand-in)."""
    def ask_selection(ctx, req) -> Answer:
        return ctx.plain_answer()
    monkeypatch.setitem(HANDLERS["iso2"], "PaymentServiceSelectionReq",
                        Handler("PaymentServiceSelectionRes", ask_selection, respond_selection))


def _selection(option: iso2.PaymentOption) -> iso2.PaymentServiceSelectionReq:
    return iso2.PaymentServiceSelectionReq(SelectedPaymentOption=option, SelectedServiceList=iso2.SelectedServiceList(
        SelectedService=[iso2.SelectedService(ServiceID=1)]))


async def _selected(provider, option=iso2.PaymentOption.Contract) -> Bench:
    bench = Bench("iso2")
    bench.session.settings = replace(bench.session.settings, certificates=provider)
    await _discovered(bench)
    answer = await _send(bench, "PaymentServiceSelectionReq", _selection(option))
    assert answer.ResponseCode.value == "OK"
    return bench


def _the_provider_answer(bench: Bench) -> bytes:
    """A CertificateInstallationRes as a provider would make it: for this session, not made by our SECC."""
    body = HANDLERS["iso2"]["CertificateInstallationReq"]
    response = body.respond(bench.session.ctx, None, iso2.ResponseCode.OK_NewSessionEstablished)
    return exi.encode("iso2", iso2.V2G_Message(Header=iso2.MessageHeader(SessionID=bench.session.ctx.session_id),
                                               Body=iso2.Body(CertificateInstallationRes=response)))


@pytest.mark.parametrize("name, action", [("CertificateInstallationReq", "Install"),
                                          ("CertificateUpdateReq", "Update")])
def test_the_request_goes_out_as_received_and_the_answer_comes_back_as_it_is(contract_accepted, name, action):
    async def go():
        provider = Provider()
        bench = await _selected(provider)
        provider.answer = _the_provider_answer(bench)
        sent = exi.encode("iso2", bench.car.message(name, PLUG_AND_CHARGE_REQUESTS[name]))
        out = await bench.session.on_message(sent)
        await asyncio.sleep(0)
        return bench, provider, sent, out
    bench, provider, sent, out = asyncio.run(go())
    assert provider.asked == [(action, ISO2_NS, sent)]
    assert out == provider.answer  # byte for byte: the provider's signature covers it
    assert not bench.connection.closed and bench.faults == []


@pytest.mark.parametrize("provider", [Provider(None), Provider(fail=True)], ids=["refused", "broken"])
def test_no_answer_from_the_provider_is_failed_with_placeholders_and_the_session_ends(contract_accepted, provider):
    async def go():
        bench = await _selected(provider)
        name = "CertificateInstallationReq"
        answer = await _send(bench, name, PLUG_AND_CHARGE_REQUESTS[name])
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = asyncio.run(go())
    assert type(answer).__name__ == "CertificateInstallationRes" and answer.ResponseCode == iso2.ResponseCode.FAILED
    assert answer.ContractSignatureCertChain.Certificate == b"" and len(answer.eMAID.content) == 14
    assert bench.connection.closed and bench.faults == ["EV_SESSION_REFUSED"]


def test_a_silent_provider_is_answered_failed_before_the_cars_timeout(contract_accepted, monkeypatch):
    monkeypatch.setattr(secc_session, "PROVIDER_TIMEOUT_S", 0.3)  # 4.0 s in service: the same path, faster

    async def go():
        bench = await _selected(Provider(b"late", delay_s=10.0))
        began = time.monotonic()
        answer = await _send(bench, "CertificateInstallationReq", PLUG_AND_CHARGE_REQUESTS["CertificateInstallationReq"])
        return answer, time.monotonic() - began
    answer, took = asyncio.run(go())
    assert answer.ResponseCode == iso2.ResponseCode.FAILED and 0.3 <= took < 1.0
    assert certificate_provider.PROVIDER_TIMEOUT_S < 5.0  # the car waits 5 s: FAILED reaches it before that


def test_after_external_payment_nothing_is_forwarded(contract_accepted):
    async def go():
        provider = Provider(b"never")
        bench = await _selected(provider, iso2.PaymentOption.ExternalPayment)
        answer = await _send(bench, "CertificateInstallationReq", PLUG_AND_CHARGE_REQUESTS["CertificateInstallationReq"])
        await asyncio.sleep(0)
        return bench, provider, answer
    bench, provider, answer = asyncio.run(go())
    assert provider.asked == [] and answer.ResponseCode == iso2.ResponseCode.FAILED_SequenceError
    assert "EV_SEQUENCE_ERROR" in bench.faults
