"""The rig's CSMS: answers a station over OCPP 2.0.1, checks every frame it sends against the schemas and
records all traffic (in memory for the report, and as JSON lines when given a file).

Strict: a station CALL or CALLRESULT that violates its 2.0.1 schema is kept in `violations`; a scenario
fails when any is there. Security profile 1 (basic auth over ws) and 2 (the same over TLS with the rig's
test CA, see test_ca.py).
"""
from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ocpp.exceptions import InternalError, OCPPError
from ocpp.messages import Call, CallResult, unpack, validate_payload
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve

from hil.csms.tx_ledger import ledger

if TYPE_CHECKING:  # the test CA needs cryptography, an extra the rig loads only for wss
    from hil.csms.test_ca import TestCa

SUBPROTOCOL = "ocpp2.0.1"


@dataclass(frozen=True)
class SchemaViolation:
    action: str
    kind: str  # "call" or "result"
    detail: str


class _StationPeer(ChargePoint):
    """One connected station, seen from the CSMS."""

    def __init__(self, station_id: str, connection: ServerConnection, csms: "CsmsSimulator"):
        super().__init__(station_id, connection, response_timeout=10)
        self._csms = csms
        self._pending_actions: dict[str, str] = {}  # unique id of our CALL -> action, to check the answer

    async def route_message(self, raw_msg):
        self._csms.record("in", self.id, raw_msg)
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            self._csms.violations.append(SchemaViolation("?", "frame", str(error)))
            return
        if isinstance(msg, Call):
            await self._csms.check(msg, msg.action, "call")
            if msg.action in self._csms.leave_unanswered:  # a CSMS that lost this one CALL
                self._csms.leave_unanswered.discard(msg.action)
                return
            if self._csms.refuse.get(msg.action, 0) > 0:  # a CSMS that fails to process it (CALLERROR)
                self._csms.refuse[msg.action] -= 1
                await self._send(msg.create_call_error(InternalError(description="refused by the test")).to_json())
                return
        elif isinstance(msg, CallResult) and msg.unique_id in self._pending_actions:
            msg.action = self._pending_actions.pop(msg.unique_id)
            await self._csms.check(msg, msg.action, "result")
        await super().route_message(raw_msg)

    async def _send(self, message):
        self._csms.record("out", self.id, message)
        frame = json.loads(message)
        if frame[0] == 2:
            self._pending_actions[frame[1]] = frame[2]
        await self._connection.send(message)

    @on(Action.boot_notification)
    def _boot(self, **_: Any):
        status, interval = self._csms.boot_answer()
        return call_result.BootNotification(current_time=_now(), interval=interval, status=status)

    @on(Action.heartbeat)
    def _heartbeat(self, **_: Any):
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def _status(self, **_: Any):
        return call_result.StatusNotification()

    @on(Action.transaction_event)
    def _transaction_event(self, id_token: dict | None = None, **event: Any):
        known = id_token is not None and id_token.get("id_token") in self._csms.tokens
        extra = self._csms.transaction_answer(event) if self._csms.transaction_answer else {}  # role_price.py
        return call_result.TransactionEvent(id_token_info=self._csms.token_info(id_token) if known else None, **extra)

    @on(Action.authorize)
    def _authorize(self, id_token: dict, iso15118_certificate_hash_data: list | None = None, **_: Any):
        judge = self._csms.contract_status_answer  # Plug & Charge (C07): hil/csms/role_pnc_revoked.py
        status = judge(iso15118_certificate_hash_data) if judge and iso15118_certificate_hash_data else None
        return call_result.Authorize(id_token_info=self._csms.token_info(id_token), certificate_status=status)

    @on(Action.notify_event)
    def _notify_event(self, **_: Any):
        return call_result.NotifyEvent()

    @on(Action.meter_values)
    def _meter_values(self, **_: Any):
        return call_result.MeterValues()

    @on(Action.notify_report)
    def _notify_report(self, **_: Any):
        return call_result.NotifyReport()

    @on(Action.reservation_status_update)
    def _reservation_status_update(self, **_: Any):
        return call_result.ReservationStatusUpdate()

    @on(Action.sign_certificate)
    def _sign_certificate(self, csr: str, **_: Any):
        self._csms.csrs.append(csr)  # a test or role signs it and sends CertificateSigned (csr_signing.py)
        return call_result.SignCertificate(status="Accepted")

    @on(Action.get_15118_ev_certificate)
    async def _ev_certificate(self, action: str, exi_request: str, **_: Any):
        provide = self._csms.ev_certificate_answer  # (action, exiRequest) -> (status, exiResponse): role_ev_certificates.py
        status, exi_response = await provide(action, exi_request) if provide else ("Failed", "")
        return call_result.Get15118EVCertificate(status=status, exi_response=exi_response)

    @on(Action.get_certificate_status)
    def _certificate_status(self, ocsp_request_data: dict, **_: Any):
        answer = self._csms.certificate_status_answer  # OCSPRequestData -> (status, ocspResult): role_ocsp.py
        status, result = answer(ocsp_request_data) if answer else ("Failed", None)
        return call_result.GetCertificateStatus(status=status, ocsp_result=result)

    @on(Action.security_event_notification)
    def _security_event(self, **_: Any):
        return call_result.SecurityEventNotification()

    @on(Action.notify_monitoring_report)
    def _notify_monitoring_report(self, **_: Any):
        return call_result.NotifyMonitoringReport()

    @on(Action.log_status_notification)
    def _log_status(self, **_: Any):
        return call_result.LogStatusNotification()

    @on(Action.firmware_status_notification)
    def _firmware_status(self, **_: Any):
        return call_result.FirmwareStatusNotification()

    @on(Action.report_charging_profiles)
    def _report_charging_profiles(self, **_: Any):
        return call_result.ReportChargingProfiles()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class CsmsSimulator:
    def __init__(self, *, password: str = "", tls: TestCa | None = None, jsonl: Path | None = None,
                 boot_statuses: tuple[tuple[str, int], ...] = (), heartbeat_s: int = 300,
                 client_certs: bool = False):
        self.password = password
        self.tls = tls
        self.client_certs = client_certs  # profile 3: a station certificate from the test CA, CN = station id
        self.leave_unanswered: set[str] = set()  # actions whose next CALL gets no answer (tests of time-outs)
        self.refuse: dict[str, int] = {}  # action -> how many of its next CALLs get a CALLERROR (retry tests)
        self.jsonl = jsonl
        self.traffic: list[dict] = []
        self.violations: list[SchemaViolation] = []
        self.refused_logins = 0
        self.tokens: dict[str, dict] = {}  # idToken -> idTokenInfo (snake_case) for Authorize; others Unknown
        self.csrs: list[str] = []  # SignCertificate requests, PEM, in arrival order
        self.peer_certs: list[dict] = []  # profile 3: each station certificate shown (ssl's peercert form)
        self.stations: dict[str, _StationPeer] = {}
        # more fields of each TransactionEventResponse (snake_case), from the event (snake_case): hil/csms/role_price.py
        self.transaction_answer: Callable[[dict], dict] | None = None
        self.certificate_status_answer: Callable[[dict], tuple[str, str | None]] | None = None  # GetCertificateStatus
        self.ev_certificate_answer: Callable[[str, str], Awaitable[tuple[str, str]]] | None = None  # Get15118EVCertificate
        self.contract_status_answer: Callable[[list], str] | None = None  # Authorize's certificateStatus from hash data
        self._boot_statuses = list(boot_statuses)  # answers before Accepted, e.g. ("Pending", 1)
        self._heartbeat_s = heartbeat_s
        self._server: Server | None = None
        self.port = 0
        self._changed = asyncio.Event()

    # ---- life cycle ----------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        context = None
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
            if self.client_certs:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(cafile=self.tls.root_file)
        self._server = await serve(self._serve, host, port or self.port, subprotocols=[SUBPROTOCOL],
                                   process_request=self._check_login, ssl=context, ping_interval=None,
                                   close_timeout=1)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"{'wss' if context else 'ws'}://{host}:{self.port}"

    async def stop(self) -> None:
        """Go away as a CSMS outage does: the listening socket and every station link close."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.stations.clear()

    def _check_login(self, connection: ServerConnection, request) -> Any:
        station = request.path.strip("/").rsplit("/", 1)[-1]
        if self.client_certs:  # the TLS handshake checked the chain; the name must be the station's
            peer = connection.transport.get_extra_info("peercert") or {}
            self.peer_certs.append(peer)
            names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
            if names != [station]:
                self.refused_logins += 1
                return connection.respond(HTTPStatus.UNAUTHORIZED, "certificate is not this station's\n")
            return None
        if not self.password:
            return None
        expected = "Basic " + base64.b64encode(f"{station}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            self.refused_logins += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "wrong station credentials\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        if connection.subprotocol != SUBPROTOCOL:
            await connection.close(1002, "ocpp2.0.1 only")
            return
        station_id = connection.request.path.strip("/").rsplit("/", 1)[-1]
        peer = _StationPeer(station_id, connection, self)
        self.stations[station_id] = peer
        try:
            await peer.start()
        except Exception:  # the station went away: its link ends here
            pass
        finally:
            if self.stations.get(station_id) is peer:
                del self.stations[station_id]

    # ---- checking and recording ---------------------------------------------------------------------
    def boot_answer(self) -> tuple[str, int]:
        if self._boot_statuses:
            return self._boot_statuses.pop(0)
        return "Accepted", self._heartbeat_s

    async def check(self, message: Call | CallResult, action: str, kind: str) -> None:
        try:
            await validate_payload(message, "2.0.1")
        except Exception as error:  # every schema problem counts, whatever ocpp calls it
            self.violations.append(SchemaViolation(action, kind, str(error)[:300]))

    def record(self, direction: str, station: str, text: Any) -> None:
        entry = {"t": time.time(), "dir": direction, "station": station, "frame": text}
        self.traffic.append(entry)
        if self.jsonl is not None:
            with self.jsonl.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")
        self._changed.set()

    def calls(self, action: str) -> list[dict]:
        """Payloads of the station's CALLs of one action, in arrival order."""
        found = []
        for entry in self.traffic:
            if entry["dir"] != "in":
                continue
            try:
                frame = json.loads(entry["frame"])
            except (ValueError, TypeError):
                continue
            if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and frame[2] == action:
                found.append(frame[3])
        return found

    def transaction_ledger(self) -> dict:
        """TransactionEvents by (transactionId, seqNo): duplicates, retries, missing (hil/csms/tx_ledger.py)."""
        return ledger(self.traffic)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the CSMS waited in vain")
            self._changed.clear()
            waiter = asyncio.ensure_future(self._changed.wait())
            try:  # not asyncio.wait_for: on 3.11 it can swallow a cancellation
                await asyncio.wait({waiter}, timeout=min(left, 0.2))
            finally:
                waiter.cancel()

    def token_info(self, id_token: dict) -> dict:
        return self.tokens.get(id_token.get("id_token", ""), {"status": "Unknown"})

    # ---- requests to a station --------------------------------------------------------------------------
    def peer(self, station_id: str) -> _StationPeer:
        return self.stations[station_id]

    async def request_start(self, station_id: str, evse_id: int, id_token: str, remote_start_id: int):
        return await self.peer(station_id).call(call.RequestStartTransaction(
            id_token={"idToken": id_token, "type": "Central"}, remote_start_id=remote_start_id, evse_id=evse_id))

    async def request_stop(self, station_id: str, transaction_id: str):
        return await self.peer(station_id).call(call.RequestStopTransaction(transaction_id=transaction_id))

    async def trigger(self, station_id: str, message: str, evse_id: int | None = None):
        return await self.peer(station_id).call(call.TriggerMessage(
            requested_message=message, evse={"id": evse_id} if evse_id else None))

    async def get_variables(self, station_id: str, items: list[dict]):
        """items: camelCase GetVariableData ({"component": {...}, "variable": {...}})."""
        return await self.peer(station_id).call(call.GetVariables(get_variable_data=items))

    async def set_variables(self, station_id: str, items: list[dict]):
        return await self.peer(station_id).call(call.SetVariables(set_variable_data=items))

    async def get_base_report(self, station_id: str, request_id: int, base: str):
        return await self.peer(station_id).call(call.GetBaseReport(request_id=request_id, report_base=base))

    async def send_local_list(self, station_id: str, version: int, update_type: str, entries: list[dict] | None):
        """entries: camelCase AuthorizationData ({"idToken": {...}, "idTokenInfo": {...}})."""
        return await self.peer(station_id).call(call.SendLocalList(
            version_number=version, update_type=update_type, local_authorization_list=entries))

    async def get_local_list_version(self, station_id: str):
        return await self.peer(station_id).call(call.GetLocalListVersion())

    async def clear_cache(self, station_id: str):
        return await self.peer(station_id).call(call.ClearCache())

    async def cost_updated(self, station_id: str, transaction_id: str, total_cost: float):
        return await self.peer(station_id).call(call.CostUpdated(total_cost=total_cost, transaction_id=transaction_id))

    async def send_raw(self, station_id: str, text: str) -> None:
        """A frame as given, right or wrong (the bad-input tests)."""
        peer = self.peer(station_id)
        self.record("out", station_id, text)
        await peer._connection.send(text)
