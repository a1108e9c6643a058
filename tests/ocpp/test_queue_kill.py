"""kill -9 of the station while TransactionEvents flow (tools/bench/ocpp_kill.py, a few rounds): none is lost,
none arrives out of order, every transaction is ended (PowerLoss, by the next start), none is sent again as a
new CALL, and a repeat is only ever the one CALL in flight at a kill, retransmitted with its messageId (the
CSMS recognises the CALL it answered).
The long run: python -m tools.bench.ocpp_kill --kills 200."""
from __future__ import annotations

import asyncio

import pytest

from tools.bench import ocpp_kill

pytestmark = pytest.mark.timeout(90)
KILLS, SEED = 6, 16


def test_kill_9_loses_no_queued_event_duplicates_none_and_retransmits_at_most_the_one_in_flight(tmp_path):
    result = asyncio.run(ocpp_kill.run(KILLS, SEED, tmp_path))
    print(f"\nocpp kill -9: {result}")  # the figures: lost, retransmissions (per kill instant), retries
    assert result["ok"], result["problems"]
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["retransmissions"] <= KILLS
    assert result["transactions"] == KILLS and result["stopped_reasons"] == {"PowerLoss": KILLS}
    assert set(result["kill_instants"]) == {"uniform", "after_answer"}
    assert result["schema_violations"] == 0


def test_the_verdict_fails_a_lost_or_changed_event():
    from hil.csms import CsmsSimulator

    csms = CsmsSimulator()
    for uid, seq, kind, state in (("a", 0, "Started", "EVConnected"), ("b", 2, "Ended", "Idle"),
                                  ("c", 2, "Ended", "Charging")):
        csms.record("in", "S", f'[2,"{uid}","TransactionEvent",{{"eventType":"{kind}","seqNo":{seq},'
                               f'"transactionInfo":{{"transactionId":"T","chargingState":"{state}"}}}}]')
    result = ocpp_kill.verdict(csms, 1, 0, ["uniform"])
    assert not result["ok"] and result["lost"] == 1
    assert any("other content" in p for p in result["problems"])
