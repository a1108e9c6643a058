"""The queued message leaves the queue in the callback that reads the CSMS's answer (the smallest window for a
kill -9 to cause a repeat), and the CSMS's ledger tells repeats from losses."""
from __future__ import annotations

import json

import pytest

from controller.ocpp.queue_sender import QueueSender
from hil.csms.tx_ledger import ledger
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


@run_async
async def test_the_answer_removes_the_message_before_the_sending_task_resumes(monkeypatch):
    seen = []
    answered, send = QueueSender.answered, QueueSender.send

    def watch_answer(self, unique_id):
        before = len(self.queue)
        answered(self, unique_id)
        seen.append((before, len(self.queue), "sending" in seen))

    async def watch_send(self, protocol, message):
        seen.append("sending")
        await send(self, protocol, message)
        seen.remove("sending")

    monkeypatch.setattr(QueueSender, "answered", watch_answer)
    monkeypatch.setattr(QueueSender, "send", watch_send)
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.move("plugged")
        await csms.wait_for(lambda: csms.calls("TransactionEvent") and len(service.queue) == 0, 5)
    assert (1, 0, True) in seen  # the TransactionEvent: gone while its send was still waiting to resume
    assert "sending" not in seen


def _frames(*frames):
    return [{"dir": d, "frame": json.dumps(f)} for d, f in frames]


def _te(uid, tx, seq):
    return ("in", [2, uid, "TransactionEvent", {"seqNo": seq, "transactionInfo": {"transactionId": tx}}])


def test_the_ledger_counts_repeats_of_answered_events_and_gaps():
    traffic = _frames(_te("a", "T", 0), ("out", [3, "a", {}]),
                      _te("b", "T", 1),  # not answered (the CSMS went away): the repeat is a retry
                      _te("c", "T", 1), ("out", [3, "c", {}]),
                      _te("c", "T", 1), ("out", [3, "c", {}]),  # the answered CALL itself again: retransmitted
                      _te("d", "T", 1), ("out", [3, "d", {}]),  # answered before, now a new CALL: a duplicate
                      _te("e", "T", 3), ("out", [3, "e", {}]))  # seqNo 2 never came
    found = ledger(traffic)
    assert found["events"] == 3 and found["retries"] == 1 and found["retransmissions"] == 1
    assert found["duplicates"] == [["T", 1]] and found["missing"] == [["T", 2]]
    assert found["out_of_order"] == [] and found["unanswered"] == 1  # "b", never answered


def test_the_rig_verdict_fails_a_repeat_of_an_answered_event_but_not_a_retry():
    from hil.csms.rig_role import first_arrivals, judge_ocpp

    def event(seq, kind="Updated"):
        return {"tx": "t1", "type": kind, "seq": seq, "offline": False}

    report = {"violations": [], "notes": [], "transaction_events": [event(0, "Started"), event(1, "Ended")],
              "ledger": {"duplicates": [], "retries": 1}}
    assert judge_ocpp(report, expect_offline=False) == []
    report["ledger"]["duplicates"] = [["t1", 1]]
    assert judge_ocpp(report, expect_offline=False) == ["transaction t1: seqNo 1 came again after the CSMS had "
                                                        "answered it"]
    raw = [{"transactionInfo": {"transactionId": "t1"}, "seqNo": n} for n in (0, 1, 1, 2)]
    assert [e["seqNo"] for e in first_arrivals(raw)] == [0, 1, 2]


def test_a_queued_message_keeps_its_message_id_across_a_restart_and_a_new_attempt_gets_a_new_one(tmp_path):
    from controller.ocpp.queue_sender import stable_message_id
    from controller.store.ocpp_queue import OcppQueue

    path = tmp_path / "store.sqlite"
    queue = OcppQueue(path)
    payload = {"eventType": "Updated", "seqNo": 4, "transactionInfo": {"transactionId": "T"}}
    queue.append("TransactionEvent", payload, 1.0)
    queue.append("TransactionEvent", dict(payload, seqNo=5), 1.0)
    first, second = queue.pending()
    before = stable_message_id(first, 0)
    queue.close()
    reopened = OcppQueue(path)  # what a restart after kill -9 reads
    again = reopened.pending()[0]
    assert stable_message_id(again, 0) == before and len(before) == 36  # OCPP-J: at most 36 characters
    assert stable_message_id(again, 1) != before  # a retry after a CALLERROR: a new CALL
    assert stable_message_id(second, 0) != before
    reopened.close()
