"""kill -9 of the station while TransactionEvents flow: none is lost. The one in flight at the kill may
come a second time, identical (same transactionId and seqNo, so the CSMS can tell), never a different one."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from controller.store.ocpp_queue import OcppQueue
from hil.csms import CsmsSimulator
from tests.ocpp.harness import PASSWORD, run_async

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def _child(url: str, queue_file: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.ocpp.queue_child", url, str(queue_file), mode],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@run_async
async def test_kill_9_loses_no_queued_event(tmp_path):
    queue_file = tmp_path / "store.sqlite"
    OcppQueue(queue_file).close()
    csms = CsmsSimulator(password=PASSWORD)
    url = await csms.start()
    first = _child(url, queue_file, "charge")
    try:
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= 15, 20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=5)
        await asyncio.sleep(0.3)  # the CSMS notices the dead link
        left = OcppQueue(queue_file)
        leftover = [m.payload["seqNo"] for m in left.pending()]
        left.close()
        received = [e["seqNo"] for e in csms.calls("TransactionEvent")]
        highest = max(leftover + received) + 1  # the drain's start ends the open transaction (PowerLoss)
        second = _child(url, queue_file, "drain")
        try:
            await csms.wait_for(lambda: set(range(highest + 1)) <= {e["seqNo"] for e in csms.calls(
                "TransactionEvent")}, 20)
            await csms.wait_for(lambda: len(OcppQueue(queue_file)) == 0, 10)
        finally:
            second.terminate()
            second.wait(timeout=5)
    finally:
        if first.poll() is None:
            first.kill()
        await csms.stop()
    events = csms.calls("TransactionEvent")
    assert {e["seqNo"] for e in events} == set(range(highest + 1))  # nothing lost
    counts = Counter(json.dumps(e, sort_keys=True) for e in events)
    twice = [text for text, n in counts.items() if n > 1]
    assert len(twice) <= 1 and all(counts[t] == 2 for t in twice)  # only the one in flight, identical
    assert len(Counter(e["seqNo"] for e in events)) + len(twice) == len(events)
    assert csms.violations == []
