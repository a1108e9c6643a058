"""`csms-restart`: the CSMS process dies while the first car charges and a new one starts on the same port.

It dies in the worst instant for the station: a TransactionEvent has arrived and is not answered yet. The
new process knows nothing of the old one's links; what it received is kept (a real CSMS has it in its
database; here the old traffic is carried over, as the JSON lines file holds it). The station reconnects by
itself and sends again what was never answered: a retry, not a duplicate (hil/csms/tx_ledger.py). The run
passes when every event arrived, in order, and none that had been answered came again.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from hil.csms.simulator import CsmsSimulator

if TYPE_CHECKING:
    from hil.csms.rig_role import RigCsms

DOWN_S = 0.5  # from the death of the old process to the new one listening


async def restart_mid_session(rig: "RigCsms", cid: int, timeout_s: float) -> None:
    old = rig.csms
    # charging, and every TransactionEvent so far answered: the next one is the first the CSMS leaves
    await old.wait_for(lambda: any(e["transactionInfo"].get("chargingState") == "Charging"
                                   for e in rig._events(cid)) and old.transaction_ledger()["unanswered"] == 0,
                       timeout_s)
    received = len(old.calls("TransactionEvent"))
    old.leave_unanswered.add("TransactionEvent")  # it dies while handling the next one
    await old.wait_for(lambda: len(old.calls("TransactionEvent")) > received, timeout_s)
    # the rest runs to its end even when the cars are done first (the runner then cancels the CSMS's part)
    await asyncio.shield(asyncio.ensure_future(_restart(rig, old)))


async def _restart(rig: "RigCsms", old: CsmsSimulator) -> None:
    began = time.time()
    await old.stop()
    await asyncio.sleep(DOWN_S)
    new = CsmsSimulator(password=old.password, tls=old.tls, jsonl=old.jsonl, client_certs=old.client_certs,
                        heartbeat_s=old._heartbeat_s)
    new.traffic, new.violations = old.traffic, old.violations  # what the old process stored
    await new.start(port=old.port)
    rig.csms = new
    rig.outage = (began, time.time())
    rig.notes.append(f"CSMS process restarted after {len(old.calls('TransactionEvent'))} TransactionEvents, "
                     "one of them unanswered")
