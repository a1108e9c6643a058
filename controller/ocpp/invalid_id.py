"""A transaction whose idToken the CSMS refuses after it started (OCPP 2.0.1 E05): the answer to one of its
TransactionEvents carries an idTokenInfo whose status is not Accepted. Typically a transaction that started
offline on the local list, the cache or OfflineTxForUnknownIdEnabled, its events sent when the link returned.

- TxCtrlr.StopTxOnInvalidId true: the transaction is stopped at once (triggerReason Deauthorized,
  stoppedReason DeAuthorized; controller/ocpp/identification.py).
- false: energy flows on only until the transaction has delivered TxCtrlr.MaxEnergyOnInvalidId Wh (0, the
  default: not at all), then the car is asked to stop charging (TransactionEvent Updated, triggerReason
  EnergyLimitReached). The transaction stays open while the car stays plugged in and ends by TxStopPoint,
  stoppedReason EnergyLimitReached. This is E05 as OCPP 1.6 spelled it out ("only stop the energy
  delivery"); the energy counted is the whole transaction's, since the limit bounds what an invalid token gets.

A DC session cannot hold its energy and resume it later without the car, so stopping the energy is the car's
normal stop (as for a remote stop): the power path opens the usual way, never under load.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from controller.ocpp.tx_follower import session_of

log = logging.getLogger(__name__)

TX = "TxCtrlr"
POLL_S = 0.25  # how often a capped transaction's energy is looked at (a 400 kW charge adds 28 Wh meanwhile)
STOP_REASON = "energy_limit"  # the connector's session stop reason (transactions.STOPPED_REASON)


class InvalidIdLimits:
    def __init__(self, transactions: dict[int, Any], connectors: dict[int, Any], device_model: Any,
                 deauthorize: Callable[[str], None], enqueue: Callable[[dict, Any], None],
                 clock: Callable[[], float]):
        self._transactions = transactions
        self._connectors = connectors
        self._device_model = device_model
        self._deauthorize = deauthorize
        self._enqueue = enqueue
        self._clock = clock
        self.capped: dict[str, float] = {}  # transactionId -> the Wh it may still reach

    def rejected(self, transaction_id: str) -> None:
        """The CSMS refused the token of this transaction (from the answer to one of its events)."""
        if self._device_model.get({"name": TX}, {"name": "StopTxOnInvalidId"}, None)[1] == "true":
            self._deauthorize(transaction_id)
            return
        if self._find(transaction_id) is None:  # ended already: nothing left to limit
            return
        self.capped[transaction_id] = self._device_model.number(TX, "MaxEnergyOnInvalidId")
        self.check()

    def check(self) -> None:
        for transaction_id, limit in list(self.capped.items()):
            found = self._find(transaction_id)
            if found is None:
                del self.capped[transaction_id]
                continue
            evse, tx = found
            connector = self._connectors[evse]
            session = session_of(connector, tx)
            delivered = session.energy_wh if session is not None else 0.0
            if delivered < limit:
                continue
            if connector.request_stop(STOP_REASON):  # False before a session: looked at again at the next poll
                del self.capped[transaction_id]
                log.warning("OCPP: transaction %s refused by the CSMS stops its energy at %.0f Wh "
                            "(MaxEnergyOnInvalidId %.0f)", transaction_id, delivered, limit)
                self._enqueue(tx.event("Updated", "EnergyLimitReached", self._clock()), tx)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self.check()
            except Exception:  # e.g. the store's disk is full: the next poll tries again
                log.exception("OCPP: the MaxEnergyOnInvalidId check failed")

    def _find(self, transaction_id: str) -> tuple[int, Any] | None:
        return next(((evse, tx) for evse, tx in self._transactions.items()
                     if tx.transaction_id == transaction_id), None)
