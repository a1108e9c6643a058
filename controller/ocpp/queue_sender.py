"""Sending the queued messages (TransactionEvents): once each as far as the station can know, retried per
MessageAttempts / MessageAttemptInterval (OCPPCommCtrlr, instance TransactionEvent), never blocking forever.

Duplicates: a queued message is deleted in the callback that reads the CSMS's CALLRESULT, before anything else
runs (StationProtocol's on_result), not when the sending task resumes later. What is left is the window no
station can close alone: the CSMS processed the CALL and its answer was not yet read (in flight, or arrived in
the instant of a kill -9 or power cut). Such a message goes again at the next start with the same
transactionId and seqNo, so the CSMS can tell it is a repeat; at most one per crash, since one CALL is in
flight at a time. And it goes with the messageId it had: the id is made from the message itself (its queue
id, its attempt and its content), so a CSMS that already answered that CALL sees the same CALL again and can
answer it without booking anything twice (an idempotency key at the RPC layer; OCPP-J asks a messageId to be
unique on one websocket connection, and a restart is a new one). A retry after a CALLERROR is a new attempt
and gets a new id.

Retries: a CALLERROR or a time-out counts as a failed attempt; attempt n (of MessageAttempts) is followed by a
wait of n x MessageAttemptInterval, during which the messages behind it wait too (their order is the seqNo
order). After the last attempt the message is dropped with a log line. A time-out still ends the link (a CSMS
that does not answer is probably gone): the retry goes on the next link, no earlier than its wait.
Attempts are counted on disk beside the queue (controller/store/ocpp_attempts.py): a restart does not give a
message its attempts again. The wait before the next attempt is not kept: after a restart it goes at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from typing import Any, Callable

from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import OCPPError
from ocpp.v201 import call

from controller.store.ocpp_attempts import AttemptCounts
from controller.store.ocpp_queue import OcppQueue, QueuedMessage

log = logging.getLogger(__name__)
_MESSAGE_IDS = uuid.UUID("5f0e6c1a-8d2b-4c57-9a43-0b1e7d2f9c61")  # namespace of the queued messages' ids


def stable_message_id(message: QueuedMessage, failed_attempts: int) -> str:
    """The CALL's messageId for this attempt of the message: the same after a restart (36 characters, as
    OCPP-J allows), never the same for two messages (the content holds the timestamp and transactionId)."""
    content = json.dumps(message.payload, sort_keys=True, separators=(",", ":"))
    return str(uuid.uuid5(_MESSAGE_IDS, f"{message.id}/{failed_attempts}/{message.action}/{content}"))


class QueueSender:
    def __init__(self, queue: OcppQueue, attempts: Callable[[], float], interval_s: Callable[[], float],
                 clock: Callable[[], float] = time.monotonic):
        """`attempts`, `interval_s`: MessageAttempts and MessageAttemptInterval in force (read at each failure)."""
        self.queue = queue
        self._attempts_allowed = attempts
        self._interval_s = interval_s
        self._clock = clock
        self._in_flight: tuple[str, int] | None = None  # (unique id, queue id) of the CALL awaiting its answer
        self._answered: int | None = None  # queue id whose CALLRESULT was read
        self._failures = AttemptCounts(queue.connection)  # queue id -> failed attempts so far, on disk
        self._hold: tuple[int, float] | None = None  # (queue id, not before this monotonic time)
        self.dropped = 0

    def answered(self, unique_id: str) -> None:
        """A CALLRESULT was read (called synchronously from the frame's callback): forget the message now."""
        if self._in_flight is not None and self._in_flight[0] == unique_id:
            self.queue.remove(self._in_flight[1])
            self._failures.forget(self._in_flight[1])
            self._answered = self._in_flight[1]

    def ready(self, message_id: int) -> bool:
        return self._hold is None or self._hold[0] != message_id or self._clock() >= self._hold[1]

    def ready_at(self) -> float:
        """When a held message may go again (monotonic), or inf."""
        return self._hold[1] if self._hold is not None else math.inf

    async def send(self, protocol: Any, message: QueuedMessage) -> Any:
        """The CSMS's answer, or None when there was none to use (CALLERROR, an invalid answer)."""
        unique_id = stable_message_id(message, self._failures.get(message.id))
        self._in_flight, self._answered = (unique_id, message.id), None
        payload = getattr(call, message.action)(**camel_to_snake_case(message.payload))
        try:
            answer = await protocol.call(payload, suppress=False, unique_id=unique_id)
        except OCPPError as error:
            if self._answered == message.id:  # a CALLRESULT that breaks its schema is still an answer
                log.warning("OCPP: the CSMS's answer to %s was not valid (%s); taken as delivered",
                            message.action, error)
            else:
                self._failed(message, f"CALLERROR {error.code}")
            return None
        except asyncio.TimeoutError:
            self._failed(message, "no answer in time")
            raise
        finally:
            self._in_flight = None
        self.queue.remove(message.id)  # normally gone already (answered); idempotent
        self._failures.forget(message.id)
        self._hold = None
        return answer

    def _failed(self, message: QueuedMessage, why: str) -> None:
        failures = self._failures.get(message.id) + 1
        allowed = max(1, int(self._attempts_allowed()))
        what = f"{message.action} {_seq(message)}"
        if failures >= allowed:
            log.warning("OCPP: %s dropped after %d attempts (last: %s)", what, failures, why)
            self.queue.remove(message.id)
            self._failures.forget(message.id)
            self._hold = None
            self.dropped += 1
            return
        self._failures.note(message.id, failures)
        wait = failures * self._interval_s()
        self._hold = (message.id, self._clock() + wait)
        log.warning("OCPP: %s attempt %d of %d failed (%s); again in %.0f s", what, failures, allowed, why, wait)


def _seq(message: QueuedMessage) -> str:
    info = message.payload.get("transactionInfo", {})
    return f"{info.get('transactionId', '?')} seqNo {message.payload.get('seqNo', '?')}"
