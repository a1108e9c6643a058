"""Target for OCPP frames from the CSMS: the input is one websocket message (a text frame when it is UTF-8, a
binary frame otherwise, as the websocket library hands them over) routed through the station's ChargePoint
subclass (StationProtocol.route_message: ocpp's unpacking, schema checks, our @on handlers, our answer to
frames ocpp cannot parse) with the real OcppService behind it. The connection is a fake that records what the
station sends back; no network. Each input gets a fresh station: connector 1 available, connector 2 charging
in transaction TX_ID.

The property: nothing escapes route_message; a frame that unpacks as a CALLRESULT or CALLERROR gets no answer
and is not kept (no call of the station waits for it); every other frame gets exactly one answer, a
CALLRESULT or CALLERROR, carrying the frame's message id when the frame is a CALL with a string id; the
station's answers validate against the OCPP 2.0.1 schemas (ocpp checks CALLRESULTs itself); one frame takes
at most FRAME_BOUND_S.
"""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from tools.fuzz.target import OneInput, PropertyBroken, Target

STATION = "FUZZ-1"
TX_ID = "fuzz-transaction-2"
FRAME_BOUND_S = 2.0
CALL, CALLRESULT, CALLERROR = 2, 3, 4


class _RecordingConnection:
    """The websocket as StationProtocol uses it: what the station sends is kept, nothing is ever received."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:
        raise ConnectionError("the fuzz connection is never read")


class _Connector:
    """The public face of a connector that OcppService reads and calls."""

    def __init__(self, cid: int, state: str) -> None:
        self.cfg = SimpleNamespace(id=cid, type="CCS1")
        self.state, self.authorized, self.meter = state, False, None
        self.session = self.last_session = None

    def blocking_faults(self) -> list:
        return []

    def is_authorized(self) -> bool:
        return self.authorized

    def authorize(self) -> None:
        self.authorized = True

    def request_stop(self, reason: str = "user_stop") -> bool:
        return self.state == "charging"

    def snapshot(self) -> dict:
        on = self.state == "charging"
        return {"voltage_v": 400.0 if on else 0.0, "current_a": 50.0 if on else 0.0, "power_kw": 20.0 if on else 0.0,
                "soc": 40 if on else None}


def _station():
    import random

    from controller.formats.cabinet.config import OcppConfig
    from controller.formats.events import PhaseChanged
    from controller.ocpp.protocol import StationProtocol
    from controller.ocpp.service import OcppService

    cfg = OcppConfig(url="ws://127.0.0.1:9/", station_id=STATION, password="fuzz-password-0123456789")
    service = OcppService(cfg, STATION, [_Connector(1, "available"), _Connector(2, "charging")],
                          clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    service.on_event(PhaseChanged(2, "charging", 0.0))
    service.transactions[2].transaction_id = TX_ID
    connection = _RecordingConnection()
    return StationProtocol(STATION, connection, service, 1.0, service.link.note_frame), connection


def _frame_kind(message: Any) -> tuple[int | None, Any]:
    """(message type, message id) as ocpp unpacks the frame; (None, None) when it cannot."""
    from ocpp.exceptions import OCPPError
    from ocpp.messages import unpack

    try:
        msg = unpack(message)
    except (OCPPError, ValueError, RecursionError):  # json's own limits raise the last two
        return None, None
    return msg.message_type_id, msg.unique_id


def _check_answer(text: Any, kind: int | None, unique_id: Any) -> None:
    try:
        answer = json.loads(text)
    except (TypeError, ValueError):
        raise PropertyBroken(f"the answer is not JSON text: {text!r:.200}") from None
    if not isinstance(answer, list) or not answer or answer[0] not in (CALLRESULT, CALLERROR):
        raise PropertyBroken(f"the answer is not a CALLRESULT or CALLERROR: {text:.200}")
    if answer[0] == CALLERROR and (len(answer) != 5 or not all(isinstance(x, str) for x in answer[2:4])
                                   or not isinstance(answer[4], dict)):
        raise PropertyBroken(f"malformed CALLERROR: {text:.200}")
    if answer[0] == CALLRESULT and (len(answer) != 3 or not isinstance(answer[2], dict)):
        raise PropertyBroken(f"malformed CALLRESULT: {text:.200}")
    if kind == CALL and answer[1] != unique_id:  # a CSMS's non-string id comes back as it was sent
        raise PropertyBroken(f"the answer's id {answer[1]!r} is not the CALL's {unique_id!r}")


def _build() -> OneInput:
    import asyncio

    import ocpp.messages  # noqa: F401  imported here, at build, where the worker instruments imports

    _station()  # the same for the station's modules: imported on first use they would add no coverage
    loop = asyncio.new_event_loop()

    def one(data: bytes) -> None:
        try:
            message: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            message = data
        protocol, connection = _station()
        try:
            loop.run_until_complete(asyncio.wait_for(protocol.route_message(message), FRAME_BOUND_S))
        except TimeoutError:
            raise PropertyBroken(f"one frame took longer than {FRAME_BOUND_S} s") from None
        kind, unique_id = _frame_kind(message)
        if kind in (CALLRESULT, CALLERROR):
            if connection.sent:
                raise PropertyBroken(f"a CALLRESULT/CALLERROR was answered: {connection.sent[0]:.200}")
            if protocol._response_queue.qsize():
                raise PropertyBroken("an answer to no call of the station was kept")
            return
        if len(connection.sent) != 1:
            raise PropertyBroken(f"{len(connection.sent)} answers to one frame: {connection.sent!r:.300}")
        _check_answer(connection.sent[0], kind, unique_id)
    return one


def _call(unique_id: str, action: str, payload: Any) -> bytes:
    return json.dumps([CALL, unique_id, action, payload]).encode()


def _seeds() -> list[bytes]:
    token = {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"}
    variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    out = [
        _call("s1", "RequestStartTransaction", {"idToken": token, "remoteStartId": 7, "evseId": 1}),
        _call("s2", "RequestStartTransaction", {"idToken": {"idToken": "", "type": "Central"}, "remoteStartId": 8}),
        _call("s3", "RequestStopTransaction", {"transactionId": TX_ID}),
        _call("s4", "GetVariables", {"getVariableData": [variable, {**variable, "attributeType": "Target"},
                                                         {"component": {"name": "EVSE", "evse": {"id": 2}},
                                                          "variable": {"name": "AvailabilityState"}}]}),
        _call("s5", "SetVariables", {"setVariableData": [{**variable, "attributeValue": "120"}]}),
        _call("s6", "TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 2}}),
        _call("s7", "TriggerMessage", {"requestedMessage": "BootNotification"}),
        _call("s8", "GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"}),
        _call("s9", "Reset", {"type": "Immediate"}),  # a valid action without a handler
        json.dumps([CALLRESULT, "station-call-1", {"currentTime": "2024-01-01T00:00:00Z"}]).encode(),
        json.dumps([CALLERROR, "station-call-2", "InternalError", "", {}]).encode(),
        b'[2, "b1", "GetVariables", {"getVariableData": [',  # broken JSON
        b"\x00\xffnot json",
        b'{"not": "a list"}',
        b'[2, "w1", "RequestStartTransaction", {"idToken": "token", "remoteStartId": "seven"}]',  # wrong types
        b'[2, 17, "TriggerMessage", {"requestedMessage": 5}]',
        b'[9, "x", "Heartbeat", {}]',
        b"[2]",
        _call("h1", "GetVariables", {"getVariableData": [variable] * 2000}),  # huge frames
        _call("h2", "SetVariables", {"setVariableData": [{**variable, "attributeValue": "9" * 60000}]}),
    ]
    return out


def targets() -> list[Target]:
    return [Target("ocpp-csms-frame", "StationProtocol.route_message (ocpp 2.0.1 + our handlers, OcppService)", (),
                   _build, _seeds, 1 << 17)]
