"""kill -9 of an OCPP station while TransactionEvents flow, many times, and the CSMS's count of what arrived.

    python -m tools.bench.ocpp_kill [--kills 50] [--seed N] [--out bench/ocpp_kill.json]

Each round starts a station process (tests/ocpp/queue_child.py: a car charging, a TransactionEvent every
20 ms) on the same queue file, which first ends the transaction the last kill left open (PowerLoss), and
kills it with SIGKILL: half the kills at a random instant, half just after the CSMS wrote a TransactionEvent's
answer (the one window where a repeat is possible). A last process drains the queue. Then, from the CSMS's
traffic (hil/csms/tx_ledger.py): lost events (a seqNo missing), retransmissions (the very CALL the CSMS had
answered, same messageId, sent again because the kill took its answer: at most one per kill), duplicates (an
answered event sent again as a new CALL: none allowed), retries (sent again after no answer), order.
Exit 1 when an event was lost, duplicated, out of order or repeated with other content, when there were more
retransmissions than kills, or when a transaction never ended.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from controller.store.ocpp_queue import OcppQueue
from hil.csms import CsmsSimulator

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "rig-password-0123456789"  # tests/ocpp/harness.py's made-up station password


def _child(url: str, queue_file: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "tests.ocpp.queue_child", url, str(queue_file), mode],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class _KillingCsms(CsmsSimulator):
    """Calls `after_answer` once a TransactionEvent's answer has been handed to the socket."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.after_answer = None
        self._te_ids: set[str] = set()

    def record(self, direction: str, station: str, text: Any) -> None:
        super().record(direction, station, text)
        try:
            frame = json.loads(text)
        except (ValueError, TypeError):
            return
        if direction == "in" and frame[0] == 2 and frame[2] == "TransactionEvent":
            self._te_ids.add(frame[1])
        elif direction == "out" and frame[0] == 3 and frame[1] in self._te_ids and self.after_answer:
            # recorded just before the send: the kill lands after the frame is written, in the next turn
            asyncio.get_running_loop().call_soon(self.after_answer)


async def run(kills: int, seed: int, folder: Path) -> dict:
    rng = random.Random(seed)
    queue_file = folder / "store.sqlite"
    OcppQueue(queue_file).close()
    csms = _KillingCsms(password=PASSWORD)
    url = await csms.start()
    instants: list[str] = []  # how each round's kill came, in order
    try:
        for _ in range(kills):
            child = _child(url, queue_file, "charge")
            try:
                seen = len(csms.calls("TransactionEvent"))
                wanted = seen + rng.randint(2, 12)
                await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= wanted, 30)
                if rng.random() < 0.5:
                    instants.append("after_answer")
                    killed = asyncio.get_running_loop().create_future()
                    csms.after_answer = lambda: (child.send_signal(signal.SIGKILL),
                                                 killed.done() or killed.set_result(None))
                    await asyncio.wait_for(killed, 10)
                    csms.after_answer = None
                else:
                    instants.append("uniform")
                    await asyncio.sleep(rng.uniform(0, 0.05))
                    child.send_signal(signal.SIGKILL)
                await asyncio.to_thread(child.wait, 5)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait(5)
        drain = _child(url, queue_file, "drain")
        try:
            await csms.wait_for(lambda: _queue_length(queue_file) == 0 and all_ended(csms), 30)
        finally:
            drain.terminate()
            drain.wait(5)
    finally:
        await csms.stop()
    return verdict(csms, kills, seed, instants)


def _queue_length(queue_file: Path) -> int:
    queue = OcppQueue(queue_file)
    try:
        return len(queue)
    finally:
        queue.close()


def all_ended(csms: CsmsSimulator) -> bool:
    events = csms.calls("TransactionEvent")
    ids = {e["transactionInfo"]["transactionId"] for e in events}
    ended = {e["transactionInfo"]["transactionId"] for e in events if e["eventType"] == "Ended"}
    return bool(ids) and ids == ended


def verdict(csms: CsmsSimulator, kills: int, seed: int, instants: list[str]) -> dict:
    found = csms.transaction_ledger()
    events = csms.calls("TransactionEvent")
    copies: dict[tuple, set[str]] = defaultdict(set)
    for event in events:
        copies[(event["transactionInfo"]["transactionId"], event["seqNo"])].add(json.dumps(event, sort_keys=True))
    different = [list(key) for key, texts in copies.items() if len(texts) > 1]
    reasons: dict[str, int] = defaultdict(int)
    for (tx, seq), texts in copies.items():
        event = json.loads(next(iter(texts)))
        if event["eventType"] == "Ended":
            reasons[event["transactionInfo"].get("stoppedReason", "?")] += 1
    # each round made one transaction, in order: a duplicate counts for the kill of its transaction's round
    rounds = list(dict.fromkeys(e["transactionInfo"]["transactionId"] for e in events))
    by_instant: dict[str, int] = defaultdict(int)
    for tx, _ in found["repeats"] if instants else ():  # without instants: no rounds to count them by
        index = rounds.index(tx)
        by_instant[instants[index] if index < len(instants) else "drain"] += 1
    problems = []
    if found["missing"]:
        problems.append(f"lost: {found['missing']}")
    if found["out_of_order"]:
        problems.append(f"out of order: {found['out_of_order']}")
    if different:
        problems.append(f"repeated with other content: {different}")
    if found["duplicates"]:
        problems.append(f"answered events sent again as new CALLs: {found['duplicates']}")
    if found["retransmissions"] > kills:
        problems.append(f"{found['retransmissions']} retransmissions in {kills} kills (at most one per kill)")
    if not all_ended(csms):
        problems.append("a transaction never ended")
    return {"ok": not problems, "problems": problems, "kills": kills, "seed": seed,
            "kill_instants": {name: instants.count(name) for name in sorted(set(instants))},
            "events": found["events"], "transactions": found["transactions"], "lost": len(found["missing"]),
            "duplicates": len(found["duplicates"]), "retransmissions": found["retransmissions"],
            "repeats_by_kill_instant": dict(by_instant),
            "retries": found["retries"], "stopped_reasons": dict(reasons), "schema_violations": len(csms.violations)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.ocpp_kill", description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "ocpp_kill.json")
    args = parser.parse_args(argv)
    if args.kills < 1:
        print("ocpp_kill: --kills must be at least 1", file=sys.stderr)
        return 2
    import tempfile
    with tempfile.TemporaryDirectory(prefix="ocpp-kill-") as folder:
        result = asyncio.run(run(args.kills, args.seed, Path(folder)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "problems"}))
    for problem in result["problems"]:
        print(f"ocpp_kill: {problem}", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
