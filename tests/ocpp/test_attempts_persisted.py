"""MessageAttempts counted on disk: a TransactionEvent the CSMS keeps refusing is dropped after MessageAttempts
attempts in all, however often the controller restarts in between; counts go with their messages."""
from __future__ import annotations

import asyncio

import pytest
from ocpp.exceptions import InternalError

from controller.ocpp.queue_sender import QueueSender
from controller.ocpp.transactions import Transaction
from controller.store.ocpp_attempts import AttemptCounts
from controller.store.ocpp_queue import OcppQueue

pytestmark = pytest.mark.timeout(30)


class RefusingCsms:
    def __init__(self):
        self.calls = 0

    async def call(self, payload, suppress=True, unique_id=None):
        self.calls += 1
        raise InternalError(description="refused")


def _one_attempt(path) -> tuple[int, int]:
    """A controller start: one attempt at the first queued message; (messages left, dropped)."""
    queue = OcppQueue(path)
    try:
        sender = QueueSender(queue, lambda: 3, lambda: 0)
        asyncio.run(sender.send(RefusingCsms(), queue.first()))
        return len(queue), sender.dropped
    finally:
        queue.close()


def test_a_restart_does_not_give_a_refused_message_its_attempts_again(tmp_path):
    path = tmp_path / "store.sqlite"
    queue = OcppQueue(path)
    tx = Transaction(1)
    queue.append("TransactionEvent", tx.event("Started", "CablePluggedIn", 1_800_000_000.0))
    queue.append("TransactionEvent", tx.event("Updated", "ChargingStateChanged", 1_800_000_001.0))
    queue.close()
    assert _one_attempt(path) == (2, 0)
    assert _one_attempt(path) == (2, 0)
    assert _one_attempt(path) == (1, 1)  # the third attempt in all: dropped, the next one waits its turn
    queue = OcppQueue(path)
    assert queue.first().payload["seqNo"] == 1
    assert AttemptCounts(queue.connection).get(queue.first().id) == 0  # its own count starts at nothing
    queue.close()


def test_counts_of_messages_no_longer_queued_are_cleared_at_start(tmp_path):
    path = tmp_path / "store.sqlite"
    queue = OcppQueue(path)
    kept = queue.append("TransactionEvent", {"x": 1})
    gone = queue.append("TransactionEvent", {"x": 2})
    counts = AttemptCounts(queue.connection)
    counts.note(kept, 2)
    counts.note(gone, 1)
    queue.remove(gone)  # a kill -9 between the queue's delete and the count's
    queue.close()
    queue = OcppQueue(path)
    counts = AttemptCounts(queue.connection)
    assert counts.get(kept) == 2 and counts.get(gone) == 0
    assert queue.connection.execute("SELECT count(*) FROM ocpp_attempts").fetchone()[0] == 1
    counts.forget(kept)
    assert counts.get(kept) == 0
    queue.close()
