"""The car's V2G link: SLAC, SDP, TCP, the AppProtocol handshake, then DIN or ISO-2 requests.

`SimulatedCar` builds each request with `requests` (the DIN or ISO-2 message the handshake chose) and gets the
decoded response back (hil/ev/evcc/answers.py reads it). Every failure is an EvLinkError with the reason.
"""
from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from controller.formats.v2g import exi, v2gtp
from controller.formats.v2g.messages import appproto
from hil.ev.evcc.answers import accepted
from hil.ev.evcc.profile import CarProfile
from hil.ev.evcc.recorder import V2gPcapStream
from hil.ev.evcc.requests import RequestBuilder
from hil.ev.evcc.strict import (StrictCarViolation, Violation, check_handshake, check_payment_options,
                                check_response, check_sdp)
from hil.ev.evcc.link_error import EvLinkError
from hil.ev.plc_connect import EvLinkPlan, EvV2gConnection
from hil.ev.process_stalls import StallMeter
from hil.ev.sdp_client import SdpFailed
from hil.ev.slac_ev import SlacEvFailed
from hil.ev.v2gtp_client import V2gtpClient, V2gtpClientError

if TYPE_CHECKING:  # cryptography and the PKI: loaded only by a car that installs a contract
    from hil.pki.contract_provisioning import InstalledContract

CERTIFICATE_TIMEOUT_S = 5.0  # ISO-2: the car waits this long for CertificateInstallationRes / CertificateUpdateRes
SCHEMA_OF_NAMESPACE = {"urn:din:70121:2012:MsgDef": "din", "urn:tesla:din:2018:MsgDef": "din",
                       "urn:iso:15118:2:2013:MsgDef": "iso2"}
Connect = Callable[[EvLinkPlan], Awaitable[EvV2gConnection]]


class V2gEvLink:
    def __init__(self, profile: CarProfile, connect: Connect, recorder: V2gPcapStream | None = None,
                 tls: ssl.SSLContext | None = None):
        """`connect(plan)`: SLAC, SDP and TCP on the car's end of the link (hil.ev.plc_connect.connect_over_plc);
        `recorder`: writes the SDP and V2GTP traffic to a pcap."""
        self.profile = profile
        self.recorder = recorder
        self.tls = tls  # the car's TLS client (V2G roots), for a SECC that answers TLS
        self._connect = connect
        self.connection: EvV2gConnection | None = None
        self.client: V2gtpClient | None = None
        self.builder: RequestBuilder | None = None
        self.exchanges: list[dict] = []   # request name, response name, code, round trip (s)
        self.violations: list[Violation] = []  # what the strict car found (the first one ends the run)
        self.contract = None  # Plug & Charge: the car's contract (hil/ev/evcc/contract.py CarContract)
        self.wants_contract = False  # none yet: select Contract anyway and install one (CertificateInstallation)
        self.replaced_contract = None  # the contract a CertificateUpdate replaced
        self.stalls = StallMeter()  # the car's process unscheduled: its deadlines move by that (for the report)

    async def connect(self) -> None:
        plan = EvLinkPlan(sdp_security=v2gtp.SDP_SECURITY_TLS if self.profile.sdp_tls else v2gtp.SDP_SECURITY_NONE,
                          tls=self.tls, stalls=self.stalls)
        self.stalls.start()
        try:
            self.connection = await self._connect(plan)
        except (SlacEvFailed, SdpFailed, V2gtpClientError) as exc:
            raise EvLinkError(f"link setup: {exc}") from None
        self.client = self.connection.client
        self.client.stalls = self.stalls
        self._strict(check_sdp(plan.sdp_security, self.connection.sdp.response))
        if self.recorder is not None:
            now = time.time()
            answered = now - self.connection.connect_s
            self.recorder.sdp(v2gtp.SdpRequest(plan.sdp_security), self.connection.sdp.response,
                              answered - self.connection.sdp.round_trip_s, answered)
            tls = self.client.tls_stream
            if tls is None:
                self.recorder.connected(now)
            else:  # the TLS records as they crossed, the handshake's too (TCP connect began when SDP ended)
                self.recorder.connected(answered)
                for t, side, data in tls.early_wire:
                    self.recorder.wire(t, side, data)
                tls.on_wire = self.recorder.wire
        await self._handshake()

    async def _handshake(self) -> None:
        offers = [appproto.AppProtocol(ProtocolNamespace=p.namespace, VersionNumberMajor=p.major,
                                       VersionNumberMinor=p.minor, SchemaID=p.schema_id, Priority=p.priority)
                  for p in self.profile.protocols]
        request = exi.encode("appproto", appproto.SupportedAppProtocolReq(AppProtocol=offers))
        handshake_timeout_s = self.profile.request_timeout_s * self.profile.timing_scale
        answer = self._decode("appproto", await self._send(request, handshake_timeout_s, "handshake"))
        self._strict(check_handshake([p.schema_id for p in self.profile.protocols], answer.ResponseCode.value,
                                     answer.SchemaID))
        if answer.SchemaID is None or not answer.ResponseCode.value.startswith("OK"):
            raise EvLinkError(f"handshake: {answer.ResponseCode.value}")
        chosen = next((p for p in self.profile.protocols if p.schema_id == answer.SchemaID), None)
        if chosen is None or chosen.namespace not in SCHEMA_OF_NAMESPACE:
            raise EvLinkError(f"handshake: the SECC chose SchemaID {answer.SchemaID}, which we did not offer")
        self.builder = RequestBuilder(SCHEMA_OF_NAMESPACE[chosen.namespace], self.profile)
        self.builder.contract = self.contract

    @property
    def schema(self) -> str | None:
        return self.builder.schema if self.builder else None

    @property
    def requests(self) -> RequestBuilder:
        if self.builder is None:
            raise EvLinkError("not connected")
        return self.builder

    async def open_session(self, evcc_id: str) -> Any:
        """SessionSetup, ServiceDiscovery (ISO-2: ServiceDetail per service when the profile asks), then the
        payment selection; its response, or the first refusing ServiceDetail response (the SECC then closes)."""
        requests = self.requests
        setup = await self._exchange_message(*requests.session_setup(evcc_id))
        if not accepted(setup.Body.SessionSetupRes):
            return setup.Body.SessionSetupRes  # refused: a car goes no further
        requests.session_id = setup.Header.SessionID
        discovery = await self.send(requests.service_discovery())
        if requests.schema == "iso2":  # Plug & Charge where the SECC offers it and the car holds a contract
            options = [o.value for o in discovery.PaymentOptionList.PaymentOption]
            self._strict(check_payment_options(options, tls=self.client.tls_stream is not None))
            requests.pay_by_contract = (requests.contract is not None or self.wants_contract) and "Contract" in options
        if self.profile.service_details and requests.schema == "iso2":
            for service_id in listed_service_ids(discovery):
                detail = await self.send(requests.service_detail(service_id))
                if not accepted(detail):
                    return detail
        return await self.send(requests.payment_selection())

    async def install_contract(self, pki) -> "InstalledContract":
        """ISO-2 CertificateInstallation after a Contract selection: the request signed with the car's OEM
        provisioning key (hil/pki/contract_provisioning.py), the contract from the answer; EvLinkError when the
        SECC does not answer in time or the answer does not hold (chain, signature, key)."""
        from hil.ev.evcc.contract import installed_contract
        from hil.pki.contract_provisioning import ProvisioningRefused, install, installation_request
        request = installation_request(pki, self.requests.session_id)
        started = time.monotonic()
        answer = await self._send(request, CERTIFICATE_TIMEOUT_S * self.profile.timing_scale,
                                  "CertificateInstallationReq")
        try:
            installed = install(pki, answer)
        except (ProvisioningRefused, exi.ExiError, ValueError) as exc:
            raise EvLinkError(f"CertificateInstallation: {exc}") from None
        self.contract = self.requests.contract = installed_contract(installed)  # signs Authorization from now on
        self.exchanges.append({"request": "CertificateInstallationReq", "response": "CertificateInstallationRes",
                               "code": "OK", "round_trip_s": round(time.monotonic() - started, 6)})
        return installed

    async def update_contract(self, pki) -> "InstalledContract":
        """ISO-2 CertificateUpdate of the contract the car holds: the request signed with that contract's key,
        the answer checked as an installation's (chain, all four signed references) and its key decrypted with
        the OLD contract's key; the new contract pays from now on (`replaced_contract`: the old one)."""
        from hil.ev.evcc.contract import as_installed, installed_contract
        from hil.pki.contract_provisioning import ProvisioningRefused, install, update_request
        old = as_installed(self.contract)
        request = update_request(pki, old, self.requests.session_id)
        started = time.monotonic()
        answer = await self._send(request, CERTIFICATE_TIMEOUT_S * self.profile.timing_scale, "CertificateUpdateReq")
        try:
            renewed = install(pki, answer, old=old)
        except (ProvisioningRefused, exi.ExiError, ValueError) as exc:
            raise EvLinkError(f"CertificateUpdate: {exc}") from None
        self.replaced_contract = self.contract
        self.contract = self.requests.contract = installed_contract(renewed)
        self.exchanges.append({"request": "CertificateUpdateReq", "response": "CertificateUpdateRes",
                               "code": "OK", "round_trip_s": round(time.monotonic() - started, 6)})
        return renewed

    async def send(self, request: tuple[str, Any]) -> Any:
        """One request (name and body, from `requests`); the response body (e.g. a CurrentDemandRes)."""
        message = await self._exchange_message(*request)
        return getattr(message.Body, exi.message_type(message))

    async def _exchange_message(self, name: str, body: Any) -> Any:
        """Send one request; the decoded answer (an EvLinkError when it is not the matching response)."""
        schema = self.builder.schema
        timeout = {"CurrentDemandReq": self.profile.current_demand_timeout_s,
                   "PowerDeliveryReq": self.profile.power_delivery_timeout_s,
                   "ServiceDetailReq": self.profile.service_detail_timeout_s}.get(name, self.profile.request_timeout_s)
        timeout *= self.profile.timing_scale
        started, mark = time.monotonic(), self.stalls.mark()
        payload = await self._send(exi.encode(schema, self.builder.message(name, body)), timeout, name, mark)
        message = self._decode(schema, payload)
        kind = exi.message_type(message)
        response = getattr(message.Body, kind)
        code = response.ResponseCode.value
        round_trip_s, stalled_s = time.monotonic() - started, self.stalls.stalled_since(mark)
        self.exchanges.append({"request": name, "response": kind, "code": code, "round_trip_s": round(round_trip_s, 6),
                               "stalled_s": round(stalled_s, 6)})
        if kind != name[:-3] + "Res":
            raise EvLinkError(f"{name}: answered with {kind}")
        expected_id = None if name == "SessionSetupReq" else self.builder.session_id
        self._strict(check_response(schema, name, kind, response, session_id=message.Header.SessionID,
                                    expected_session_id=expected_id, round_trip_s=round_trip_s,
                                    timing_scale=self.profile.timing_scale, stalled_s=stalled_s))
        return message

    def _strict(self, violations: list[Violation]) -> None:
        if violations:
            self.violations.extend(violations)
            raise StrictCarViolation(violations[0])

    async def _send(self, payload: bytes, timeout_s: float, what: str, mark: float | None = None) -> bytes:
        """`mark`: the stall meter's mark where the exchange began (now when None); the deadline moves by the
        stalls since, and the report counts them."""
        sent_t = time.time()
        mark = self.stalls.mark() if mark is None else mark
        try:
            answer = await self.client.request(payload, timeout_s=timeout_s)
        except V2gtpClientError as exc:
            if self.recorder is not None and self.client.tls_stream is None:
                self.recorder.exchange(payload, sent_t, None, None)
            raise EvLinkError(f"{what}: {exc}") from None
        finally:
            self.stalls.extended(self.stalls.stalled_since(mark))
        if self.recorder is not None and self.client.tls_stream is None:  # over TLS the wire was recorded
            self.recorder.exchange(payload, sent_t, answer, time.time())
        return answer

    @staticmethod
    def _decode(schema: str, payload: bytes) -> Any:
        try:
            return exi.decode(schema, payload)
        except exi.ExiError as exc:
            raise EvLinkError(f"bad answer from the SECC: {exc}") from None

    async def close(self) -> None:
        await self.stalls.stop()
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


def listed_service_ids(discovery: Any) -> list[int]:
    """Every ServiceID an ISO-2 ServiceDiscoveryRes lists: the charge service, then the ServiceList's."""
    others = discovery.ServiceList.Service if discovery.ServiceList is not None else []
    return [discovery.ChargeService.ServiceID, *(s.ServiceID for s in others)]
