"""The V2G sessions of a capture that a replayed car can send again, and why the others cannot be.

Every TCP connection of a capture (each connector of a multi-connector rig pcap has its own) is one
candidate session: the car's requests in order, AppProtocol handshake first, then DIN or ISO 15118-2
messages. The handshake is cut to the namespace the captured charger chose, so our SECC picks the schema the
rest of the capture speaks even where it would weigh the car's offer differently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from controller.formats.v2g import exi
from controller.formats.capture.dissect import CaptureDissector, DissectedMessage, dissect_file
from controller.formats.capture.pcap import CaptureError
from controller.formats.capture.v2g_payload import SCHEMA_BY_NAMESPACE

REPLAYED_SCHEMAS = ("din", "iso2")


class ReplayError(RuntimeError):
    """The file cannot be replayed at all (not a capture, unreadable); the message says why."""


@dataclass
class CapturedSession:
    tcp_stream: int
    schema: str  # "din" or "iso2"
    handshake: bytes  # the car's supportedAppProtocolReq, cut to the namespace the captured charger chose
    requests: list[DissectedMessage]  # the car's requests after the handshake, in capture order
    notes: list[str] = field(default_factory=list)  # what the replay leaves out or changes, and why


def capture_sessions(path: str | Path) -> tuple[list[CapturedSession], list[str]]:
    """The replayable sessions and one line per connection (or file problem) that cannot be replayed."""
    dissector = CaptureDissector()
    try:
        messages = dissect_file(path, dissector)
    except CaptureError as exc:
        raise ReplayError(f"{path}: {exc}") from None
    by_stream: dict[int, list[DissectedMessage]] = {}
    for message in messages:
        if message.protocol == "V2G" and message.tcp_stream is not None:
            by_stream.setdefault(message.tcp_stream, []).append(message)
    sessions: list[CapturedSession] = []
    skipped: list[str] = [f"file: {reason} ({count} frame(s))" for reason, count in dissector.skipped.items()
                          if "ends inside a record" in reason]
    for stream, connection in by_stream.items():
        session = _session(stream, connection)
        if isinstance(session, str):
            skipped.append(f"tcp {stream}: {session}")
        else:
            sessions.append(session)
    if not by_stream:
        skipped.append("no V2G (TCP) connection in the capture")
    return sessions, skipped


def _session(stream: int, messages: list[DissectedMessage]) -> CapturedSession | str:
    """The session of one TCP connection, or why it cannot be replayed."""
    requests = [m for m in messages if m.from_ev]
    if not requests:
        return "no request from the car"
    if requests[0].type != "supportedAppProtocolReq" or requests[0].error:
        return "does not start with the car's AppProtocol handshake (caught mid-session)"
    notes = []
    broken = [m for m in requests[1:] if m.error]
    if broken:
        notes.append(f"{len(broken)} request(s) that do not decode left out ({broken[0].error})")
    rest = [m for m in requests[1:] if not m.error]
    if not rest:
        return "only the AppProtocol handshake, no request after it"
    schemas = sorted({m.schema for m in rest})
    if len(schemas) != 1 or schemas[0] not in REPLAYED_SCHEMAS:
        return f"speaks {', '.join(schemas)}; the replay speaks DIN 70121 and ISO 15118-2"
    schema = schemas[0]
    handshake = _handshake_for(requests[0], _chosen_schema_id(messages), schema)
    if handshake is None:
        return f"the car's handshake offers no {schema} namespace, yet the connection speaks {schema}"
    return CapturedSession(stream, schema, handshake, rest, notes)


def _chosen_schema_id(messages: list[DissectedMessage]) -> int | None:
    for m in messages:
        if not m.from_ev and m.type == "supportedAppProtocolRes":
            chosen = m.fields.get("SchemaID")
            return None if chosen is None else int(chosen)
    return None


def _handshake_for(request: DissectedMessage, chosen: int | None, schema: str) -> bytes | None:
    """The car's offer cut to the one namespace the replay speaks (the captured charger's choice if known)."""
    offer = exi.decode("appproto", request.payload)
    fitting = [p for p in offer.AppProtocol if SCHEMA_BY_NAMESPACE.get(p.ProtocolNamespace) == schema]
    picked = [p for p in fitting if p.SchemaID == chosen] or sorted(fitting, key=lambda p: p.Priority)[:1]
    if not picked:
        return None
    picked[0].Priority = 1
    offer.AppProtocol = picked
    return exi.encode("appproto", offer)
