"""One V2G session: a V2GTP connection from the handshake to SessionStop.

Order of things: SupportedAppProtocol (choose DIN or ISO-2), SessionSetup (new SessionID; the car's header
SessionID is not checked here, some cars send a single zero byte), ServiceDiscovery, (ISO-2) ServiceDetail,
payment/service selection; from then on the connector decides which request fits its phase. A wrong
SessionID, a request out of order or a FAILED answer ends the session after the answer is sent; malformed EXI
ends it at once. Both record a fault on the connector, whose own reaction (error shutdown) opens the contactors.

Timers: CommunicationSetup (connection to SessionSetupReq, 20 s) and ReadyToCharge (SessionSetup to
PowerDelivery start, 150 s). The sequence timeout (60 s between requests) is the V2GTP server's idle timeout.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
from dataclasses import dataclass, replace
from typing import Any, Callable

from controller.connector.ev_session import Answer, ResponseCode
from controller.connector.ports import EvSession
from controller.connector.request_order import opening_allows
from controller.connector.table import SESSION_STATES
from controller.formats.v2g import exi
from controller.formats.events import EventSink, V2gHandshake
from controller.v2g.secc import handshake
from controller.v2g.secc.certificate_provider import PROVIDER_TIMEOUT_S, CertificateProvider
from controller.v2g.secc.context import CableOffer, SeccContext
from controller.v2g.secc.handlers import HANDLERS, Handler
from controller.v2g.v2gtp_server import V2gtpConnection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeccTimers:
    communication_setup_s: float = 20.0
    ready_to_charge_s: float = 150.0


@dataclass(frozen=True)
class SeccSettings:
    offer: CableOffer
    protocols: tuple[str, ...] = ("din", "iso2")
    allow_list: frozenset[str] = frozenset()
    timers: SeccTimers = SeccTimers()
    certificates: CertificateProvider | None = None  # contract certificates for the car (OCPP); None: FAILED
    contracts: Any = None  # Plug & Charge: a controller/v2g/contract ContractValidator (None: not offered)
    present_token: Callable[[Any, int], Any] | None = None  # where a ContractToken is presented (a task: its outcome)


class SeccSession:
    def __init__(self, connection: V2gtpConnection, connector: EvSession, settings: SeccSettings, *,
                 on_note: EventSink | None = None):
        self.connection = connection
        self.connector = connector
        self.settings = settings
        self.agreement: handshake.Agreement | None = None
        self.ctx: SeccContext | None = None
        self.last_request: str | None = None
        self.stopped = False  # SessionStop answered: the car may close the connection
        self.answering: str | None = None  # the request type of the message being answered (answer times)
        self._note = on_note or (lambda event: None)
        self._forward_failed = False  # the certificate provider had no answer for the request being answered
        self._contract_selected = False  # ISO-2 PaymentServiceSelection chose Contract (Plug & Charge)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(settings.timers.communication_setup_s, self._expired,
                                      "no SessionSetupReq within the communication setup time")

    # ---- the V2GTP server's MessageHandler ---------------------------------------------------------------
    async def on_message(self, payload: bytes) -> bytes | None:
        if self.agreement is None:
            self.answering = "supportedAppProtocolReq"
            return self._handshake(payload)
        self.answering = None
        try:
            message = exi.decode(self.ctx.schema, payload)
        except exi.ExiError as exc:
            self._fail("V2G_MALFORMED_MESSAGE", f"malformed EXI: {exc}", close_now=True)
            return None
        kind = self.answering = exi.message_type(message)
        if message.warnings:  # decoded anyway (be liberal); the handler decides whether the value matters
            log.info("connector %d: %s outside the schema: %s", self.connector.cfg.id, kind,
                     "; ".join(map(str, message.warnings)))
        handler = HANDLERS[self.ctx.schema].get(kind)
        if handler is None:
            self._fail("EV_SEQUENCE_ERROR", f"{kind} is not supported", close_now=True)
            return None
        forwarded = await self._forward(kind, handler, message, payload)
        if forwarded is not None:
            return forwarded  # the provider's answer, byte for byte (it is signed)
        answer, refusal = await self._answer(kind, handler, message)
        code_name = getattr(answer.code, "value", answer.code)
        response = handler.respond(self.ctx, answer, self.ctx.response_code(code_name))
        out = exi.encode(self.ctx.schema, self.ctx.types.V2G_Message(
            Header=self.ctx.types.MessageHeader(SessionID=self.ctx.session_id),
            Body=self.ctx.types.Body(**{handler.response: response})))
        code = getattr(response.ResponseCode, "value", str(response.ResponseCode))
        if refusal:
            self._fail(*refusal)
        elif code.startswith("FAILED") and self.connector.state in SESSION_STATES \
                and not self.connector.blocking_faults():
            self._fail("EV_SESSION_REFUSED", f"{handler.response} {code}")  # the technician sees why
        elif code.startswith("FAILED"):  # the connector's own fault (isolation, e-stop...) says why
            self._close_after_answer(f"{handler.response} {code}")
        elif kind == "SessionStopReq":
            self.stopped = True
            self._close_after_answer("session stopped")
        return out

    # ---- steps ------------------------------------------------------------------------------------------
    def _handshake(self, payload: bytes) -> bytes | None:
        try:
            request = exi.decode("appproto", payload)
        except exi.ExiError as exc:
            self._fail("V2G_MALFORMED_MESSAGE", f"malformed handshake: {exc}", close_now=True)
            return None
        if exi.message_type(request) != "supportedAppProtocolReq":
            self._fail("EV_SEQUENCE_ERROR", "the first message was not supportedAppProtocolReq", close_now=True)
            return None
        agreement = handshake.choose_protocol(request, self.settings.protocols)
        out = exi.encode("appproto", handshake.answer(agreement))
        offered = [p.ProtocolNamespace for p in request.AppProtocol]
        if agreement is None:
            self._note(V2gHandshake(self.connector.cfg.id, tuple(offered), None))
            self._close_after_answer("no common protocol")
            return out
        self.agreement = agreement
        self.ctx = SeccContext(self.connector, agreement.schema, self.settings.offer, self.settings.allow_list,
                               tls=bool(self.connection.tls), contracts=self.settings.contracts,
                               present_token=self.settings.present_token)
        self._note(V2gHandshake(self.connector.cfg.id, tuple(offered), agreement.namespace, agreement.schema))
        return out

    async def _forward(self, kind: str, handler: Handler, message, payload: bytes) -> bytes | None:
        """A request someone else answers (CertificateInstallation/Update): their EXI answer, or None (then the
        usual path answers: FAILED_SequenceError out of order or with no provider, else FAILED)."""
        provider = self.settings.certificates
        if kind == "PaymentServiceSelectionReq":  # ISO-2: the certificate requests follow a Contract selection
            self._contract_selected = getattr(message.Body, kind).SelectedPaymentOption == \
                self.ctx.types.PaymentOption.Contract
        if handler.forward is None or provider is None or message.Header.SessionID != self.ctx.session_id \
                or self.last_request != "PaymentServiceSelectionReq" or not self._contract_selected:
            return None
        try:
            raw = await asyncio.wait_for(handler.forward(self.ctx, provider, payload), PROVIDER_TIMEOUT_S)
        except asyncio.TimeoutError:
            raw = None
        except Exception:  # the provider's trouble must not take the session down: FAILED, as on a refusal
            log.exception("connector %d: %s forwarding failed", self.connector.cfg.id, kind)
            raw = None
        if raw is None:
            log.warning("connector %d: no %s answer from the certificate provider", self.connector.cfg.id, kind)
            self._forward_failed = True
            return None
        self.last_request = kind
        return raw

    async def _answer(self, kind: str, handler: Handler, message) -> tuple[Answer, tuple[str, str] | None]:
        """The connector's answer, or a refusal (answer with a FAILED code, plus the fault to record)."""
        ctx = self.ctx
        if kind == "SessionSetupReq":
            if self.last_request is not None:
                return ctx.plain_answer(ResponseCode.FAILED_SEQUENCE_ERROR), (
                    "EV_SEQUENCE_ERROR", "SessionSetupReq repeated")
            ctx.session_id = os.urandom(8)
            self._restart_timer(self.settings.timers.ready_to_charge_s, "no PowerDelivery within ReadyToCharge")
        elif message.Header.SessionID != ctx.session_id:
            return replace_code(ctx.plain_answer(), "FAILED_UnknownSession"), (
                "EV_SEQUENCE_ERROR", f"unknown SessionID {message.Header.SessionID.hex()}")
        elif self._forward_failed:  # the provider had no answer: FAILED, the session ends
            self._forward_failed = False
            return ctx.plain_answer(ResponseCode.FAILED), None
        elif handler.ask is None or not opening_allows(self.last_request, kind):
            return ctx.plain_answer(ResponseCode.FAILED_SEQUENCE_ERROR), (
                "EV_SEQUENCE_ERROR", f"{kind} after {self.last_request or 'the handshake'}")
        self.last_request = kind
        ctx.header = message.Header
        answer = handler.ask(ctx, getattr(message.Body, kind))
        if inspect.isawaitable(answer):  # a contract check (Plug & Charge)
            answer = await answer
        if kind == "PowerDeliveryReq" and self._timer is not None and answer.code == ResponseCode.OK:
            self._timer.cancel()
            self._timer = None
        return answer, None

    # ---- endings ----------------------------------------------------------------------------------------
    def _restart_timer(self, delay_s: float, reason: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay_s, self._expired, reason)

    def _expired(self, reason: str) -> None:
        self._timer = None
        if not self.connection.closed:
            self._fail("EV_TIMEOUT", reason, close_now=True)

    def _fail(self, fault: str, detail: str, close_now: bool = False) -> None:
        log.warning("connector %d: V2G session ends: %s", self.connector.cfg.id, detail)
        self.connector.raise_fault(fault, detail)
        if close_now:
            self.connection.close(detail)
        else:
            self._close_after_answer(detail)

    def _close_after_answer(self, reason: str) -> None:
        # the server writes our answer before it runs this: the car reads it, then sees the close
        asyncio.get_running_loop().call_soon(self.connection.close, reason)

    def closed(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def replace_code(answer: Answer, code: str) -> Answer:
    return replace(answer, code=code)  # a protocol code the connector has no name for
