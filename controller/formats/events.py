"""The controller's events: one frozen dataclass per kind, its wire name, and its JSON line form.

Emitters build these; sinks receive them and match on the type. The JSON form is what
`charger-controller --events-json` prints, one object a line: {"event": <wire name>, <fields>...}, in
field order. The separate-process rig, the console's JSON readers and saved logs read those lines, so a
field's name, order and omission rule here are a wire contract: change them only with every reader.

A new event: a frozen dataclass here (KIND, typed fields in JSON order), added to EVENT_TYPES and to the
round-trip table in tests/formats/test_events.py; the emitter builds it, and each consumer that cares adds a
`case` for it (the store recorder keeps any other event as a generic row).
"""
from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, ClassVar, Union

# a field whose value equals its default is left out of the JSON (as the controller always did for these)
_OMIT_DEFAULT = {"omit_default": True}


class MalformedEvent(ValueError):
    """A JSON event line that is not one of the declared events."""


class Event:
    """Base of every declared event: wire name, JSON form and the parser's checks."""

    KIND: ClassVar[str]
    _EXTRA: ClassVar[dict[str, Any]] = {}  # constant keys after the fields (a fault's "active")

    def json_fields(self) -> dict[str, Any]:
        """The fields as the JSON object carries them (without the "event" key)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("omit_default") and value == f.default:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out.update(self._EXTRA)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"event": self.KIND, **self.json_fields()}

    def to_line(self) -> str:
        """One line of `--events-json` output, without the newline."""
        return json.dumps(self.to_json())

    @classmethod
    def from_json_fields(cls, data: dict[str, Any]):
        """Build from the JSON object's fields (without "event"); MalformedEvent says what is wrong."""
        hints = _hints(cls)
        declared = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(declared) - set(cls._EXTRA))
        if unknown:
            raise MalformedEvent(f"{cls.KIND} event: unknown field {unknown[0]!r}")
        for key, value in cls._EXTRA.items():
            if data.get(key, MISSING) != value:
                raise MalformedEvent(f"{cls.KIND} event: {key} must be {json.dumps(value)}")
        values = {}
        for name, f in declared.items():
            if name not in data:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise MalformedEvent(f"{cls.KIND} event: missing field {name!r}")
                continue
            if not _fits(data[name], hints[name]):
                raise MalformedEvent(f"{cls.KIND} event: field {name!r} has a wrong type "
                                     f"({type(data[name]).__name__})")
            values[name] = data[name]
        return cls(**values)


def _tuple_fields(event: Event) -> None:
    """JSON lists arrive as lists: keep a frozen event's sequences immutable (and the event hashable)."""
    for f in fields(event):  # type: ignore[arg-type]
        value = getattr(event, f.name)
        if isinstance(value, list):
            object.__setattr__(event, f.name, tuple(value))


@dataclass(frozen=True)
class PhaseChanged(Event):
    """The connector entered `state` (a state of connector/table.py)."""
    KIND: ClassVar[str] = "phase"
    connector: int
    state: str
    t: float
    maintenance: bool = field(default=False, metadata=_OMIT_DEFAULT)  # unavailable for maintenance only


@dataclass(frozen=True)
class CommunicationRestart(Event):
    """The link layer failed while plugged: CP F for a while, then another attempt."""
    KIND: ClassVar[str] = "communication_restart"
    connector: int
    reason: str
    attempt: int
    t: float


@dataclass(frozen=True)
class _SessionSummary(Event):
    """A session record's fields, as SessionRecord.to_json gives them."""
    session_id: str
    connector: int
    evcc_id: str
    start_t: float
    end_t: float | None
    energy_kwh: float
    peak_kw: float
    stop_reason: str
    fault_codes: tuple[str, ...]
    energy_source: str
    meter_start_wh: float | None

    def __post_init__(self) -> None:
        _tuple_fields(self)


@dataclass(frozen=True)
class SessionStarted(_SessionSummary):
    KIND: ClassVar[str] = "session_started"


@dataclass(frozen=True)
class SessionEnded(_SessionSummary):
    KIND: ClassVar[str] = "session_ended"


@dataclass(frozen=True)
class FaultRaised(Event):
    KIND: ClassVar[str] = "fault"
    _EXTRA: ClassVar[dict[str, Any]] = {"active": True}
    connector: int | None  # None: a cabinet-wide fault (the store's STORE_WRITE_FAILED)
    code: str
    severity: str
    detail: str
    t: float


@dataclass(frozen=True)
class FaultCleared(Event):
    """An active fault went away (its condition cleared, an unplug, or a technician's `clear`)."""
    KIND: ClassVar[str] = "fault"
    _EXTRA: ClassVar[dict[str, Any]] = {"active": False}
    connector: int | None
    code: str
    severity: str
    detail: str
    t: float


@dataclass(frozen=True)
class SeccListening(Event):
    """A connector's SECC is up: its link-local address, SDP and V2GTP ports."""
    KIND: ClassVar[str] = "secc"
    connector: int
    address: str
    sdp_port: int
    tcp_port: int


@dataclass(frozen=True)
class V2gHandshake(Event):
    """supportedAppProtocol answered: what the car offered and what was chosen (None: no common one)."""
    KIND: ClassVar[str] = "v2g_handshake"
    connector: int
    offered: tuple[str, ...]
    chosen: str | None
    schema: str | None = field(default=None, metadata=_OMIT_DEFAULT)

    def __post_init__(self) -> None:
        _tuple_fields(self)


@dataclass(frozen=True)
class V2gClosed(Event):
    """A V2GTP connection ended; with the answer times of its session when it had one."""
    KIND: ClassVar[str] = "v2g_closed"
    connector: int
    reason: str
    answer_times: dict[str, dict] | None = field(default=None, metadata=_OMIT_DEFAULT)  # per request: ms
    answer_us: dict[str, list] | None = field(default=None, metadata=_OMIT_DEFAULT)  # raw samples, rig only


@dataclass(frozen=True)
class SlacState(Event):
    KIND: ClassVar[str] = "slac"
    connector: int
    state: str
    detail: str


@dataclass(frozen=True)
class ControllerStarted(Event):
    """Every connector, driver and server is up."""
    KIND: ClassVar[str] = "started"
    connectors: tuple[int, ...]

    def __post_init__(self) -> None:
        _tuple_fields(self)


@dataclass(frozen=True)
class ConsoleLogin(Event):
    """A login at the technician console, right or wrong (the OCPP service reports it as a security event)."""
    KIND: ClassVar[str] = "console_login"
    ok: bool
    role: str  # the role now (after a refused login: the one before)
    failures: int  # wrong PINs in a row so far
    locked: bool  # this attempt locked the console (or met a lock)
    t: float


EVENT_TYPES: tuple[type[Event], ...] = (
    PhaseChanged, CommunicationRestart, SessionStarted, SessionEnded, FaultRaised, FaultCleared, SeccListening,
    V2gHandshake, V2gClosed, SlacState, ControllerStarted, ConsoleLogin)
EventSink = Callable[[Event], None]


def event_from_json(obj: Any) -> Event:
    """The event of one decoded JSON object; MalformedEvent names what is wrong."""
    if not isinstance(obj, dict):
        raise MalformedEvent(f"an event is a JSON object, not {type(obj).__name__}")
    data = dict(obj)
    kind = data.pop("event", None)
    if not isinstance(kind, str):
        raise MalformedEvent("no \"event\" name")
    if kind == "fault":
        if not isinstance(data.get("active"), bool):
            raise MalformedEvent("fault event: active must be true or false")
        return (FaultRaised if data["active"] else FaultCleared).from_json_fields(data)
    cls = _BY_KIND.get(kind)
    if cls is None:
        raise MalformedEvent(f"unknown event {kind!r}")
    return cls.from_json_fields(data)


def parse_event_line(line: str | bytes) -> Event:
    """One `--events-json` line; MalformedEvent (a ValueError) for anything else."""
    try:
        obj = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes
        raise MalformedEvent(f"not JSON: {exc}") from None
    return event_from_json(obj)


_BY_KIND: dict[str, type[Event]] = {cls.KIND: cls for cls in EVENT_TYPES if cls.KIND != "fault"}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a decoded JSON value fits a field's annotation (the few shapes events use)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return False
