"""The open transactions, one per EVSE, and their events on the way to the queue: across restarts too.

Every TransactionEvent and the state of its transaction (seqNo, idToken, ...) are written in one commit,
so a kill -9 or a power cut at any instant leaves a store whose next seqNo follows the last queued event.
At the next start a transaction found open is continued when its session really goes on (the same session
of the connector: an OCPP service restarted under a live controller) and ended otherwise: stoppedReason
PowerLoss after a crash or power cut, Reboot after a clean stop, with the last energy register known,
timestamped at the last instant the station is known to have been up with it, and offline=true when the
link was down then (the CSMS then learns it happened offline).
"""
from __future__ import annotations

import logging
from typing import Any

from controller.ocpp.transactions import Transaction, meter_value
from controller.store.ocpp_queue import OcppQueue
from controller.store.ocpp_transactions import TransactionStore

log = logging.getLogger(__name__)


def session_key(session: Any) -> str:
    """A session's name across restarts (session ids alone start again at 1 in each process)."""
    return f"{session.session_id}@{session.start_t}"


class OpenTransactions:
    def __init__(self, queue: OcppQueue) -> None:
        self.queue = queue
        self.store = TransactionStore(queue.connection)
        self.by_evse: dict[int, Transaction] = {}

    def record(self, tx: Transaction, payload: dict, online: bool) -> None:
        """Queue one of `tx`'s events (offline=true when no link was accepted) with the state it leaves."""
        if not online:
            payload["offline"] = True
        tx.online = online
        try:
            with self.queue.atomic():  # the event and the seqNo after it: both on disk, or neither
                self.queue.append("TransactionEvent", payload, tx.last_t)
                if payload["eventType"] == "Ended":
                    self.store.delete(tx.evse_id)
                else:
                    self.store.save(tx.evse_id, tx.to_state())
        except Exception:  # e.g. the disk is full: the event is not made, its seqNo goes to the next one
            tx.seq_no = payload["seqNo"]
            tx.token_sent = tx.token_sent and "idToken" not in payload
            raise
        if payload["eventType"] == "Ended":
            self.by_evse.pop(tx.evse_id, None)
        else:
            self.by_evse[tx.evse_id] = tx

    def recover(self, connectors: dict[int, Any], now: float) -> None:
        """The transactions open at the last stop: continued or ended (see the module's text)."""
        for evse, (state, clean_stop) in self.store.load().items():
            tx = Transaction.from_state(state)
            connector = connectors.get(evse)
            session = getattr(connector, "session", None)
            if session is not None and session_key(session) in tx.session_ids:
                log.info("OCPP: transaction %s of EVSE %d goes on after the restart", tx.transaction_id, evse)
                self.by_evse[evse] = tx
                continue
            reason = "Reboot" if clean_stop else "PowerLoss"
            log.warning("OCPP: transaction %s of EVSE %d was open at the %s; ended with seqNo %d",
                        tx.transaction_id, evse, "stop" if clean_stop else "crash or power loss", tx.seq_no)
            tx.charging_state = "Idle"
            t = tx.last_t or now
            meter = None
            if tx.energy_wh is not None:
                meter = meter_value(t, "Transaction.End", energy_wh=tx.energy_wh, power_w=0.0, current_a=0.0,
                                    voltage_v=0.0, soc=None)
            self.record(tx, tx.event("Ended", "AbnormalCondition", t, meter=meter, stopped=reason), tx.online)

    def note_clean_stop(self) -> None:
        self.store.mark_clean_stop()
