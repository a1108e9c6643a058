"""Each connector's transaction, followed from the connector's state: started, updated and ended per
TxStartPoint / TxStopPoint (the rules: tx_points.py), every event queued with the transaction's state
(open_transactions.py). The service calls `follow` at every phase or fault event of a connector, and after
the CSMS authorizes or stops a transaction.
"""
from __future__ import annotations

from typing import Any, Callable

from controller.ocpp.device_model import DeviceModel
from controller.ocpp.open_transactions import session_key
from controller.ocpp.transactions import CHARGING_STATE, Transaction, stopped_reason
from controller.ocpp.tx_points import PLUGGED, car_plugged, conditions, parse_points, start_trigger, stop_trigger

Meter = Callable[[Any, Transaction, float, str], "list[dict] | None"]


def session_of(connector: Any, tx: Transaction) -> Any:
    """The connector's session of this transaction: never an older car's (a plug-in without a session)."""
    if connector.session is not None and session_key(connector.session) in tx.session_ids:
        return connector.session
    last = connector.last_session
    return last if last is not None and session_key(last) in tx.session_ids else None


def note_session(connector: Any, tx: Transaction) -> None:
    if connector.session is not None:
        tx.session_ids.add(session_key(connector.session))


class TransactionFollower:
    def __init__(self, transactions: dict[int, Transaction], device_model: DeviceModel, clock: Callable[[], float],
                 enqueue: Callable[[dict, Transaction], None], meter: Meter):
        """`transactions`: the open ones by EVSE (kept by OpenTransactions, which `enqueue` writes through)."""
        self.transactions = transactions
        self._device_model = device_model
        self._clock = clock
        self._enqueue = enqueue
        self._meter = meter
        self.remote_token: dict[int, tuple[dict, int]] = {}  # authorized by the CSMS, no transaction yet
        self._ended_while_plugged: set[int] = set()  # a stop point ended it: none again until the start points reset

    def _points(self, name: str) -> tuple[str, ...]:
        return parse_points(self._device_model.text("TxCtrlr", name))

    def follow(self, connector: Any) -> None:
        evse, state = connector.cfg.id, connector.state
        if not car_plugged(connector):
            self._ended_while_plugged.discard(evse)
            self.remote_token.pop(evse, None)
        tx = self.transactions.get(evse)
        if tx is None:
            self._start_if_due(connector)
            return
        note_session(connector, tx)
        held = conditions(connector, tx.remote_stop)
        tx.points_seen |= {point for point, holds in held.items() if holds}
        end = stop_trigger(self._points("TxStopPoint"), held, tx.points_seen, state, tx.remote_stop)
        now = self._clock()
        if end is not None:
            session = session_of(connector, tx)
            reason = session.stop_reason if session else ""
            # a car still plugged in whose session gave no reason: no EVDisconnected
            stopped = "Other" if held["EVConnected"] and not (reason or tx.remote_stop) else \
                stopped_reason(reason, tx.remote_stop)
            tx.charging_state = "Idle"
            self._enqueue(tx.event("Ended", end, now, meter=self._meter(connector, tx, now, "Transaction.End"),
                                   stopped=stopped), tx)
            if held["EVConnected"]:
                self._ended_while_plugged.add(evse)
                self._start_if_due(connector)  # lifts that at once when no start point holds now
            return
        charging = CHARGING_STATE.get(state, tx.charging_state)
        if charging != tx.charging_state:
            tx.charging_state = charging
            trigger = "AbnormalCondition" if charging == "SuspendedEVSE" else "ChargingStateChanged"
            self._enqueue(tx.event("Updated", trigger, now), tx)

    def departed_unseen(self, connectors: dict[int, Any]) -> list[Any]:
        """Connectors with an open transaction whose car has gone without a phase change (a latched emergency
        keeps its state): the unplug raised no event, so whoever ticks follows these."""
        return [c for evse, c in connectors.items() if evse in self.transactions and not car_plugged(c)
                and c.state in PLUGGED]

    def _start_if_due(self, connector: Any) -> None:
        evse, now = connector.cfg.id, self._clock()
        held = conditions(connector)
        points = self._points("TxStartPoint")
        if evse in self._ended_while_plugged:  # no new start before its start points went false
            if not any(held[point] for point in points):
                self._ended_while_plugged.discard(evse)
            return
        token = self.remote_token.get(evse)
        trigger = start_trigger(points, held, token is not None)
        if trigger is None or connector.state == "emergency":
            return
        self.remote_token.pop(evse, None)
        tx = Transaction(evse, charging_state=CHARGING_STATE.get(connector.state, "EVConnected"))
        tx.points_seen = {point for point, holds in held.items() if holds}
        note_session(connector, tx)
        plug_in = trigger == "CablePluggedIn"  # the plug-in is told first, then the CSMS's authorization
        if token is not None and not plug_in:  # authorized already: the token goes in the Started event
            tx.id_token, tx.remote_start_id = token
        self._enqueue(tx.event("Started", trigger, now, meter=self._meter(connector, tx, now, "Transaction.Begin")),
                      tx)
        if token is not None and plug_in:
            tx.id_token, tx.remote_start_id = token
            self._enqueue(tx.event("Updated", "RemoteStart", now), tx)
