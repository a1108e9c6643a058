"""The CSMS's account of TransactionEvents by (transactionId, seqNo), from its recorded traffic.

A CALL repeated after the CSMS had already answered it is either a retransmission (the same messageId as the
answered CALL: the station lost the answer, e.g. killed as it arrived, and sends the very same CALL again, which
a CSMS recognises by its id) or a duplicate (the event sent again as a new CALL: the station lost track of
what it had delivered); one repeated after no answer is a retry (the CSMS never confirmed it: legitimate). Missing: a
seqNo below a transaction's highest that never arrived. Out of order: a new seqNo arriving below one already
seen for its transaction. Unanswered: CALLs received and not (yet) answered.
"""
from __future__ import annotations

import json
from typing import Iterable


def ledger(traffic: Iterable[dict]) -> dict:
    by_uid: dict[str, tuple[str, int]] = {}
    answered: dict[tuple[str, int], str] = {}  # event -> the messageId of the CALL that was answered
    seen: dict[str, list[int]] = {}
    duplicates: list[list] = []
    repeats: list[list] = []  # every answered event that came again, retransmitted or duplicated, in order
    out_of_order: list[list] = []
    retries = retransmissions = 0
    for entry in traffic:
        try:
            frame = json.loads(entry["frame"])
        except (ValueError, TypeError):
            continue
        if not isinstance(frame, list) or len(frame) < 3:
            continue
        if entry["dir"] == "in" and frame[0] == 2 and frame[2] == "TransactionEvent" and len(frame) == 4:
            key = (str(frame[3].get("transactionInfo", {}).get("transactionId")), frame[3].get("seqNo"))
            by_uid[frame[1]] = key
            arrived = seen.setdefault(key[0], [])
            if key[1] in arrived:
                if key not in answered:
                    retries += 1
                elif answered[key] == frame[1]:
                    retransmissions += 1
                    repeats.append(list(key))
                else:
                    duplicates.append(list(key))
                    repeats.append(list(key))
                continue
            if arrived and key[1] < max(arrived):
                out_of_order.append(list(key))
            arrived.append(key[1])
        elif entry["dir"] == "out" and frame[0] == 3 and frame[1] in by_uid:
            answered[by_uid.pop(frame[1])] = frame[1]
    missing = [[tx, n] for tx, seqs in seen.items() for n in range(max(seqs)) if n not in seqs]
    return {"events": sum(len(seqs) for seqs in seen.values()), "transactions": len(seen), "retries": retries,
            "retransmissions": retransmissions, "duplicates": duplicates, "repeats": repeats, "missing": missing, "out_of_order": out_of_order, "unanswered": len(by_uid)}
