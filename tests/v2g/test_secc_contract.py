"""Plug & Charge on the SECC (ISO-2 over TLS): Contract offered only where it can be checked, PaymentDetails
answered with the contract check's code and a fresh challenge, AuthorizationReq's challenge and signature,
the eMAID presented as an idToken, MeteringReceipt's signature. Every FAILED answer ends the session."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from controller.v2g.contract.validation import ContractValidator
from controller.v2g.secc.context import CableOffer, SeccContext
from controller.v2g.secc.handlers import current_demand, metering_receipt
from controller.v2g.secc.session import SeccSession, SeccSettings
from controller.v2g.v2gtp_server import V2gtpConnection
from hil.ev.evcc.contract import car_contract, signature
from hil.pki.rig_pki import rig_pki
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)

TLS = "TLSv1.2 ECDHE-ECDSA-AES128-SHA256"


class PncBench(Bench):
    """An ISO-2 session over a TLS (or plain) connection, the rig PKI's MO root installed (or `roots`)."""

    def __init__(self, contract: str = "valid", *, tls: bool = True, roots: list | None = None,
                 identification: bool = True):
        super().__init__("iso2", auto_authorize=False)
        self.session.closed()  # replaced: a session of our own with TLS and Plug & Charge settings
        self.roots = [rig_pki().mo_root.cert] if roots is None else roots
        self.presented: list[tuple[dict, int]] = []
        self.connection = V2gtpConnection(peer=("::1", 1), tls=TLS if tls else "")
        settings = SeccSettings(offer=CableOffer("US*EVSE*E1", ("DC_extended",)),
                                contracts=ContractValidator(lambda: self.roots),
                                present_token=(lambda token, cid: self.presented.append((token, cid)))
                                if identification else None)
        self.session = SeccSession(self.connection, self.conn, settings)
        self.car.contract = car_contract(contract)

    async def open_contract(self):
        """Up to PaymentServiceSelection, Contract chosen when offered; (discovery, selection) answers."""
        await self.handshake()
        await self.ask("session_setup", evcc_id="0465650064c3")
        discovery = await self.ask("service_discovery")
        self.car.pay_by_contract = "Contract" in offered(discovery)
        return discovery, await self.ask("payment_selection")

    async def details(self):
        answer = await self.ask("payment_details")
        self.car.gen_challenge = answer.GenChallenge
        return answer

    def identification_answers_later(self) -> list:
        """The identification answers each presented eMAID with a future the test settles; those futures."""
        futures: list = []

        def present(token, cid):
            futures.append(asyncio.get_running_loop().create_future())
            return futures[-1]
        self.session.settings = replace(self.session.settings, present_token=present)
        return futures

    async def settled(self):
        await asyncio.sleep(0)  # the close is scheduled right after the answer
        return self


def offered(discovery) -> list[str]:
    return [o.value for o in discovery.PaymentOptionList.PaymentOption]


def run(coro):
    return asyncio.run(coro)


def code(answer) -> str:
    return answer.ResponseCode.value


def _ended_without_energy(bench: PncBench, fault: str = "EV_SESSION_REFUSED") -> None:
    assert bench.connection.closed and fault in bench.faults
    assert not bench.conn.is_authorized() and bench.conn.state not in ("charging", "precharge", "cable_check")
    bench.settle()
    assert not bench.board.contactors_cmd and bench.conn.state in ("error_shutdown", "session_end", "plugged")


# ---- what is offered --------------------------------------------------------------------------------------
@pytest.mark.parametrize("tls, roots, options", [
    (True, None, ["Contract", "ExternalPayment"]),
    (False, None, ["ExternalPayment"]),   # plain TCP: no Plug & Charge (ISO-2 needs TLS for it)
    (True, [], ["ExternalPayment"]),      # no MO root: a contract could not be checked
])
def test_contract_is_offered_only_over_tls_with_mo_roots(tls, roots, options):
    async def go():
        bench = PncBench(tls=tls, roots=roots)
        discovery, selection = await bench.open_contract()
        return discovery, selection
    discovery, selection = run(go())
    assert offered(discovery) == options and code(selection) == "OK"


def test_contract_chosen_where_it_was_not_offered_is_refused():
    async def go():
        bench = PncBench(tls=False)
        await bench.open_contract()
        bench.car.pay_by_contract = True
        bench.session.last_request = "ServiceDiscoveryReq"
        return await bench.ask("payment_selection"), await bench.settled()
    selection, bench = run(go())
    assert code(selection) == "FAILED_PaymentSelectionInvalid" and bench.connection.closed


# ---- the good path ----------------------------------------------------------------------------------------
def test_a_valid_contract_gets_a_fresh_challenge_and_its_emaid_is_presented():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        details = await bench.details()
        first = await bench.ask("authorize")
        bench.conn.authorize()  # what the identification does once the idToken is accepted
        second = await bench.ask("authorize")
        return bench, details, first, second
    bench, details, first, second = run(go())
    assert code(details) == "OK" and len(details.GenChallenge) == 16 and details.GenChallenge != bytes(16)
    assert (code(first), first.EVSEProcessing.value) == ("OK", "Ongoing")
    assert [(token.id_token(), cid) for token, cid in bench.presented] == \
        [({"idToken": rig_pki().emaid, "type": "eMAID"}, 1)]  # once, as a card's token
    token = bench.presented[0][0]  # with the chain the car sent, for the CSMS to check
    assert token.leaf_der == bench.car.contract.leaf_der and len(token.sub_ca_ders) == 2
    assert (code(second), second.EVSEProcessing.value) == ("OK", "Finished")
    assert bench.conn.state == "authorizing" and not bench.connection.closed


@pytest.mark.parametrize("outcome, expected", [(("refused",), "FAILED"), (("authorized",), "OK"),
                                               (("refused", "FAILED_CertificateRevoked"), "FAILED_CertificateRevoked")])
def test_the_identifications_answer_to_the_emaid_decides(outcome, expected):
    """A refused eMAID (e.g. the CSMS's Authorize said Invalid) ends the session at the next AuthorizationReq
    instead of leaving the car waiting for its timeout."""
    async def go():
        bench = PncBench()
        outcomes = bench.identification_answers_later()
        await bench.open_contract()
        await bench.details()
        first = await bench.ask("authorize")
        outcomes[0].set_result((outcome[0], "by the CSMS", *outcome[1:]))
        if outcome[0] == "authorized":
            bench.conn.authorize()
        return first, await bench.ask("authorize"), await bench.settled()
    first, second, bench = run(go())
    assert first.EVSEProcessing.value == "Ongoing" and code(second) == expected
    assert bench.connection.closed == (expected != "OK")
    if expected != "OK":
        _ended_without_energy(bench)


def test_without_identification_the_valid_contract_authorizes():
    async def go():
        bench = PncBench(identification=False)
        await bench.open_contract()
        await bench.details()
        return bench, await bench.ask("authorize")
    bench, answer = run(go())
    assert (code(answer), answer.EVSEProcessing.value) == ("OK", "Finished") and bench.conn.is_authorized()


def test_every_session_gets_its_own_challenge():
    async def one():
        bench = PncBench()
        await bench.open_contract()
        return (await bench.details()).GenChallenge
    challenges = {run(one()) for _ in range(3)}
    assert len(challenges) == 3


# ---- refusals ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("contract, roots_after_selection, expected", [
    ("expired", None, "FAILED_CertificateExpired"),
    ("untrusted", None, "FAILED_CertChainError"),
    ("valid", [], "FAILED_NoCertificateAvailable"),  # the last MO root deleted after ServiceDiscovery
])
def test_a_contract_that_does_not_hold_ends_the_session(contract, roots_after_selection, expected):
    async def go():
        bench = PncBench(contract)
        await bench.open_contract()
        if roots_after_selection is not None:
            bench.roots.clear()
        return await bench.details(), await bench.settled()
    details, bench = run(go())
    assert code(details) == expected
    _ended_without_energy(bench)


def test_an_emaid_other_than_the_leafs_is_refused():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        bench.car.contract = replace(bench.car.contract, emaid="USCPIC0000002X")
        return await bench.details(), await bench.settled()
    details, bench = run(go())
    assert code(details) == "FAILED"
    _ended_without_energy(bench)


def test_a_signature_by_another_key_is_a_signature_error():
    async def go():
        bench = PncBench("bad-signature")
        await bench.open_contract()
        assert code(await bench.details()) == "OK"
        return await bench.ask("authorize"), await bench.settled()
    answer, bench = run(go())
    assert code(answer) == "FAILED_SignatureError" and bench.presented == []
    _ended_without_energy(bench)


def test_an_unsigned_authorization_is_a_signature_error():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        await bench.details()
        name, body = bench.car.authorize()
        message = bench.car.message(name, body)
        message.Header.Signature = None
        out = await bench.session.on_message(exi.encode("iso2", message))
        return exi.decode("iso2", out).Body.AuthorizationRes, await bench.settled()
    answer, bench = run(go())
    assert code(answer) == "FAILED_SignatureError"
    _ended_without_energy(bench)


def test_a_challenge_other_than_ours_is_invalid():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        details = await bench.details()
        bench.car.gen_challenge = bytes(b ^ 0xFF for b in details.GenChallenge)  # signed, but not ours
        return await bench.ask("authorize"), await bench.settled()
    answer, bench = run(go())
    assert code(answer) == "FAILED_ChallengeInvalid" and bench.presented == []
    _ended_without_energy(bench)


def test_a_replayed_authorization_of_an_earlier_session_is_refused():
    """A signed AuthorizationReq recorded in one session, replayed in the next under its SessionID: the
    signature still holds (it covers the body), the challenge is the old session's."""
    async def record():
        bench = PncBench()
        await bench.open_contract()
        await bench.details()
        name, body = bench.car.authorize()
        return bench.car.message(name, body)
    recorded = run(record())

    async def replay():
        bench = PncBench()
        await bench.open_contract()
        await bench.details()
        recorded.Header.SessionID = bench.car.session_id
        out = await bench.session.on_message(exi.encode("iso2", recorded))
        return exi.decode("iso2", out).Body.AuthorizationRes, await bench.settled()
    answer, bench = run(replay())
    assert code(answer) == "FAILED_ChallengeInvalid"
    _ended_without_energy(bench)


def test_the_challenge_is_spent_once_the_authorization_finished():
    async def go():
        bench = PncBench(identification=False)
        await bench.open_contract()
        await bench.details()
        assert (await bench.ask("authorize")).EVSEProcessing.value == "Finished"
        return bench.session.ctx.contract.challenge
    assert run(go()) is None


async def _bare_authorization(bench: PncBench):
    """AuthorizationReq without Id, GenChallenge or Signature, as Josev (EcoG-io iso15118) repeats it while the
    answer is Ongoing (it reads [V2G2-684] as: only the first request of the loop is signed)."""
    message = bench.car.message("AuthorizationReq", bench.car.t.AuthorizationReq())
    message.Header.Signature = None
    return exi.decode("iso2", await bench.session.on_message(exi.encode("iso2", message))).Body.AuthorizationRes


def test_once_the_signed_authorization_held_its_unsigned_repetitions_wait_for_the_identification():
    async def go():
        bench = PncBench()
        await bench.open_contract()
        await bench.details()
        first = await bench.ask("authorize")
        waiting = await _bare_authorization(bench)
        bench.conn.authorize()  # the identification accepted the eMAID
        return bench, first, waiting, await _bare_authorization(bench)
    bench, first, waiting, done = run(go())
    assert (code(first), first.EVSEProcessing.value) == ("OK", "Ongoing")
    assert (code(waiting), waiting.EVSEProcessing.value) == ("OK", "Ongoing") and not bench.connection.closed
    assert (code(done), done.EVSEProcessing.value) == ("OK", "Finished") and len(bench.presented) == 1
    assert bench.session.ctx.contract.challenge is None  # spent: nothing can authorize again


@pytest.mark.parametrize("after", ["nothing", "finished"])
def test_an_unsigned_authorization_never_stands_in_for_the_signed_one(after):
    """Bare AuthorizationReq as the first of the loop, or after the authorization finished: refused."""
    async def go():
        bench = PncBench(identification=after == "nothing")
        await bench.open_contract()
        await bench.details()
        if after == "finished":
            assert (await bench.ask("authorize")).EVSEProcessing.value == "Finished"
        return await _bare_authorization(bench), await bench.settled()
    answer, bench = run(go())
    assert code(answer) == "FAILED_ChallengeInvalid" and bench.presented == []
    assert bench.connection.closed


@pytest.mark.parametrize("steps", [("authorize",), ("payment_details", "payment_details")])
def test_plug_and_charge_requests_out_of_order_are_sequence_errors(steps):
    async def go():
        bench = PncBench()
        await bench.open_contract()
        answers = [await bench.ask(step) for step in steps]
        return answers[-1], await bench.settled()
    answer, bench = run(go())
    assert code(answer) == "FAILED_SequenceError"
    _ended_without_energy(bench, "EV_SEQUENCE_ERROR")


# ---- MeteringReceipt ----------------------------------------------------------------------------------------
def _receipt_context(bench: Bench):
    ctx = SeccContext(bench.conn, "iso2", CableOffer("US*EVSE*E1", ("DC_extended",)), evse_id="US*EVSE*E1")
    ctx.contract.public_key = rig_pki().contract.cert.public_key()
    ctx.contract.emaid = rig_pki().emaid
    return ctx


def _signed_receipt(ctx, key, meter_info):
    request = iso2.MeteringReceiptReq(Id="ID2", SessionID=bytes(8), SAScheduleTupleID=1, MeterInfo=meter_info)
    ctx.header = iso2.MessageHeader(SessionID=bytes(8), Signature=signature(key, "MeteringReceiptReq", request))
    return request


def test_one_current_demand_asks_for_a_receipt_with_our_meter_info():
    async def go():
        bench = Bench("iso2")
        ctx = _receipt_context(bench)
        answer = ctx.plain_answer()
        first = current_demand.respond(ctx, answer, ctx.types.ResponseCode.OK)
        second = current_demand.respond(ctx, answer, ctx.types.ResponseCode.OK)
        return ctx, first, second
    ctx, first, second = run(go())
    assert first.ReceiptRequired is True and first.MeterInfo == ctx.contract.receipt
    assert first.MeterInfo.MeterID == "US*EVSE*E1"
    assert second.ReceiptRequired is False and second.MeterInfo is None
    exi.encode("iso2", iso2.V2G_Message(Header=iso2.MessageHeader(SessionID=bytes(8)),
                                        Body=iso2.Body(CurrentDemandRes=first)))  # within the schema


@pytest.mark.parametrize("key, altered, expected", [
    ("contract", False, "OK"),
    ("other", False, "FAILED_SignatureError"),
    ("contract", True, "FAILED_SignatureError"),  # signed, but for a reading we did not send
])
def test_a_metering_receipt_must_be_signed_by_the_contract_key(key, altered, expected):
    async def go():
        bench = Bench("iso2")
        ctx = _receipt_context(bench)
        asked = metering_receipt.request(ctx)["MeterInfo"]
        sent = replace(asked, MeterReading=(asked.MeterReading or 0) + 1000) if altered else asked
        signer = rig_pki().contract.key if key == "contract" else rig_pki().oem_provisioning.key
        answer = metering_receipt.ask(ctx, _signed_receipt(ctx, signer, sent))
        response = metering_receipt.respond(ctx, answer, ctx.response_code(getattr(answer.code, "value", answer.code)))
        return ctx, response
    ctx, response = run(go())
    assert code(response) == expected and response.DC_EVSEStatus is not None
    assert ctx.contract.receipt is None  # one receipt: a second one is out of sequence


def test_a_receipt_never_asked_for_is_a_sequence_error():
    async def go():
        bench = Bench("iso2")
        ctx = _receipt_context(bench)
        meter = iso2.MeterInfo(MeterID="X", MeterReading=1)
        return bench, metering_receipt.ask(ctx, _signed_receipt(ctx, rig_pki().contract.key, meter))
    bench, answer = run(go())
    assert answer.code.value == "FAILED_SequenceError" and "EV_SEQUENCE_ERROR" in bench.faults
