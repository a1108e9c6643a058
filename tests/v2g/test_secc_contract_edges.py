"""Plug & Charge's edges on the SECC: only a request with nothing signed is a bare repetition, an identification
still pending or failed leaves the car waiting (never a crash, never authorized), the words of the sequence
errors, a contract chain without sub-CAs, and the token saying where its chain was checked (issue 19's
surviving mutants of handlers/contract_authorization.py and payment_details.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.v2g.contract.validation import ContractValidator
from hil.ev.evcc.contract import signature
from tests.v2g.test_secc_contract import PncBench, code, run

pytestmark = pytest.mark.timeout(30)


def test_a_repetition_that_carries_a_signature_is_checked_again():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        await bench.details()
        first = await bench.ask("authorize")
        t = bench.car.t
        signed = signature(bench.car.contract.signing_key, "AuthorizationReq",
                           t.AuthorizationReq(Id="ID1", GenChallenge=bench.car.gen_challenge))
        message = bench.car.message("AuthorizationReq", t.AuthorizationReq())  # no Id, no challenge
        message.Header.Signature = signed
        return first, await bench.send("AuthorizationReq", None, message), await bench.settled()
    first, repeated, bench = run(go())
    assert first.EVSEProcessing.value == "Ongoing"
    assert code(repeated) == "FAILED_ChallengeInvalid" and bench.connection.closed


@pytest.mark.parametrize("outcome", ["pending", "failed"])
def test_an_identification_pending_or_failed_leaves_the_car_waiting(outcome):
    async def go():
        bench = PncBench()
        futures = bench.identification_answers_later()
        await bench.open_contract()
        await bench.details()
        first = await bench.ask("authorize")
        if outcome == "failed":
            futures[0].set_exception(ConnectionError("the CSMS link dropped"))
        return first, await bench.ask("authorize"), await bench.settled()
    first, second, bench = run(go())
    assert first.EVSEProcessing.value == second.EVSEProcessing.value == "Ongoing"
    assert code(second) == "OK" and not bench.connection.closed and not bench.conn.is_authorized()


@pytest.mark.parametrize("steps, detail", [
    (("authorize",), "AuthorizationReq: Contract payment but no PaymentDetailsReq before it"),
    (("payment_details", "payment_details"), "PaymentDetailsReq: without Contract payment selected, or repeated"),
])
def test_plug_and_charge_sequence_errors_say_which_request_and_why(steps, detail):
    async def go():
        bench = PncBench()
        await bench.open_contract()
        for step in steps:
            await bench.ask(step)
        return bench
    bench = run(go())
    assert bench.conn.active_faults["EV_SEQUENCE_ERROR"].detail == detail


def test_a_contract_chain_without_sub_cas_is_judged_not_crashed_on():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        name, body = bench.car.payment_details()
        chain = replace(body.ContractSignatureCertChain, SubCertificates=None)
        return await bench.send(name, replace(body, ContractSignatureCertChain=chain)), bench
    answer, bench = run(go())
    assert code(answer) == "FAILED_CertChainError"  # the rig's leaf hangs below two sub-CAs
    assert "CONTROLLER_INTERNAL" not in bench.faults


def test_a_contract_checked_here_is_presented_as_locally_validated():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        await bench.details()
        await bench.ask("authorize")
        return bench
    bench = run(go())
    (token, _), = bench.presented
    assert token.locally_validated is True


def test_a_contract_left_to_the_csms_is_presented_as_not_validated_here():
    async def go():
        bench = PncBench(roots=[])
        bench.session.settings = replace(bench.session.settings,
                                         contracts=ContractValidator(lambda: [], central=lambda: True))
        await bench.open_contract()  # no MO root here, but the CSMS validates contract chains
        await bench.details()
        await bench.ask("authorize")
        return bench
    bench = run(go())
    (token, _), = bench.presented
    assert token.locally_validated is False  # so the chain itself goes to the CSMS with the Authorize
