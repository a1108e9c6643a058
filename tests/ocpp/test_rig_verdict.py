"""The rig's OCPP verdict fails a run on a schema violation, a gap in seqNo or a missing Ended."""
from __future__ import annotations

from hil.csms.rig_role import judge_ocpp


def _report(events, violations=()):
    return {"violations": list(violations), "notes": [], "transaction_events": events}


def _event(seq, kind="Updated", offline=False):
    return {"tx": "t1", "type": kind, "seq": seq, "offline": offline}


def test_a_clean_transaction_passes():
    events = [_event(0, "Started"), _event(1, offline=True), _event(2, "Ended")]
    assert judge_ocpp(_report(events), expect_offline=True) == []


def test_problems_are_named():
    violation = {"action": "TransactionEvent", "kind": "call", "detail": "'seqNo' is a required property"}
    problems = judge_ocpp(_report([_event(0, "Started"), _event(2), _event(2, "Ended")], [violation]),
                          expect_offline=True)
    assert any("schema violation in TransactionEvent" in p for p in problems)
    assert any("seqNo [0, 2, 2]" in p for p in problems)
    assert any("marked offline" in p for p in problems)
    assert judge_ocpp(_report([_event(0, "Started")]), expect_offline=False) == [
        "transaction t1: not Started ... Ended"]
