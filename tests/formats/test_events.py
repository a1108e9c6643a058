"""The declared events: their JSON lines are exactly the controller's old ones, and the parser is strict."""
from __future__ import annotations

import dataclasses
import json

import pytest

from controller.formats.events import (EVENT_TYPES, CommunicationRestart, ConsoleLogin, ControllerStarted,
                                       FaultCleared, FaultRaised, MalformedEvent, PhaseChanged, SeccListening,
                                       SessionEnded, SessionStarted, SlacState, V2gClosed, V2gHandshake,
                                       parse_event_line)

pytestmark = pytest.mark.timeout(10)

SESSION = {"session_id": "000000000000002A", "connector": 2, "evcc_id": "0a0b0c", "start_t": 100.5, "end_t": 160.25,
           "energy_kwh": 1.2345, "peak_kw": 50.1, "stop_reason": "ev_stop", "fault_codes": ["EV_TIMEOUT"],
           "energy_source": "meter", "meter_start_wh": 1000.0}

# (event, the line the controller printed for it before the events were declared: json.dumps({"event": kind, **data}))
LINES = [
    (PhaseChanged(1, "charging", 12.5), {"event": "phase", "connector": 1, "state": "charging", "t": 12.5}),
    (PhaseChanged(1, "unavailable", 13.0, maintenance=True),
     {"event": "phase", "connector": 1, "state": "unavailable", "t": 13.0, "maintenance": True}),
    (CommunicationRestart(1, "SLAC failed: timeout", 2, 14.0),
     {"event": "communication_restart", "connector": 1, "reason": "SLAC failed: timeout", "attempt": 2, "t": 14.0}),
    (SessionStarted(**{**SESSION, "end_t": None, "fault_codes": [], "meter_start_wh": None}),
     {"event": "session_started", **SESSION, "end_t": None, "fault_codes": [], "meter_start_wh": None}),
    (SessionEnded(**SESSION), {"event": "session_ended", **SESSION}),
    (FaultRaised(1, "ESTOP_PRESSED", "emergency", "emergency stop pressed", 15.0),
     {"event": "fault", "connector": 1, "code": "ESTOP_PRESSED", "severity": "emergency",
      "detail": "emergency stop pressed", "t": 15.0, "active": True}),
    (FaultCleared(1, "ESTOP_PRESSED", "emergency", "", 16.0),
     {"event": "fault", "connector": 1, "code": "ESTOP_PRESSED", "severity": "emergency", "detail": "", "t": 16.0,
      "active": False}),
    (SeccListening(1, "fe80::1%veth0", 15118, 50000),
     {"event": "secc", "connector": 1, "address": "fe80::1%veth0", "sdp_port": 15118, "tcp_port": 50000}),
    (V2gHandshake(1, ("urn:din:70121:2012:MsgDef",), None),
     {"event": "v2g_handshake", "connector": 1, "offered": ["urn:din:70121:2012:MsgDef"], "chosen": None}),
    (V2gHandshake(1, ("urn:din:70121:2012:MsgDef",), "urn:din:70121:2012:MsgDef", "din"),
     {"event": "v2g_handshake", "connector": 1, "offered": ["urn:din:70121:2012:MsgDef"],
      "chosen": "urn:din:70121:2012:MsgDef", "schema": "din"}),
    (V2gClosed(1, "peer closed"), {"event": "v2g_closed", "connector": 1, "reason": "peer closed"}),
    (V2gClosed(1, "peer closed", {"CurrentDemandReq": {"count": 9, "p50_ms": 1.2}}, {"CurrentDemandReq": [1200]}),
     {"event": "v2g_closed", "connector": 1, "reason": "peer closed",
      "answer_times": {"CurrentDemandReq": {"count": 9, "p50_ms": 1.2}}, "answer_us": {"CurrentDemandReq": [1200]}}),
    (SlacState(1, "matched", ""), {"event": "slac", "connector": 1, "state": "matched", "detail": ""}),
    (ControllerStarted((1, 2)), {"event": "started", "connectors": [1, 2]}),
    (ConsoleLogin(False, "viewer", 2, False, 17.0),
     {"event": "console_login", "ok": False, "role": "viewer", "failures": 2, "locked": False, "t": 17.0}),
]


@pytest.mark.parametrize("event,old", LINES, ids=[f"{e.KIND}-{i}" for i, (e, _) in enumerate(LINES)])
def test_the_line_is_the_old_line_and_reads_back(event, old):
    line = event.to_line()
    assert line == json.dumps(old)  # same keys, same order, same omissions
    assert parse_event_line(line) == event
    assert parse_event_line(line.encode()) == event  # as read from a pipe


def test_every_declared_event_is_covered_above():
    assert {type(e) for e, _ in LINES} == set(EVENT_TYPES)


def test_events_are_frozen_and_hashable():
    event = ControllerStarted([1, 2])  # a list from a caller is kept as a tuple
    assert event.connectors == (1, 2)
    hash(SessionEnded(**SESSION))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.connectors = (3,)


def test_a_fault_line_becomes_raised_or_cleared_by_active():
    raised = parse_event_line('{"event": "fault", "connector": 1, "code": "X", "severity": "error", "detail": "d", '
                              '"t": 1, "active": true}')
    assert isinstance(raised, FaultRaised) and raised.t == 1
    cleared = parse_event_line('{"event": "fault", "connector": 1, "code": "X", "severity": "error", "detail": "", '
                               '"t": 2.5, "active": false}')
    assert isinstance(cleared, FaultCleared)


@pytest.mark.parametrize("line,reason", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object, not list"),
    ('{"connector": 1}', 'no "event" name'),
    ('{"event": 3}', 'no "event" name'),
    ('{"event": "teleport", "connector": 1}', "unknown event 'teleport'"),
    ('{"event": "phase", "connector": 1, "t": 1.0}', "phase event: missing field 'state'"),
    ('{"event": "phase", "connector": "1", "state": "a", "t": 1.0}', "phase event: field 'connector' has a wrong type"),
    ('{"event": "phase", "connector": true, "state": "a", "t": 1.0}', "field 'connector' has a wrong type (bool)"),
    ('{"event": "phase", "connector": 1, "state": "a", "t": 1.0, "colour": "red"}', "unknown field 'colour'"),
    ('{"event": "fault", "connector": 1, "code": "X", "severity": "error", "detail": "", "t": 1.0}',
     "fault event: active must be true or false"),
    ('{"event": "started", "connectors": [1, "two"]}', "field 'connectors' has a wrong type"),
    ('{"event": "v2g_closed", "connector": 1, "reason": "r", "answer_times": [1]}', "field 'answer_times'"),
    ('{"event": "phase", "connector": 1, "state": "a", "t": 1.0, "active": true}', "unknown field 'active'"),
])
def test_a_malformed_line_is_refused_with_the_reason(line, reason):
    with pytest.raises(MalformedEvent) as refused:
        parse_event_line(line)
    assert reason in str(refused.value)
    assert isinstance(refused.value, ValueError)
