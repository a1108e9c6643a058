"""Clock-aligned meter values (OCPP 2.0.1 block J): at the wall-clock instants AlignedDataCtrlr.Interval
divides the day into (900 s: on every quarter hour, counted from midnight UTC), every EVSE's readings go to the
CSMS, context Sample.Clock: inside a transaction as TransactionEvent Updated (trigger MeterValueClock), outside
one as MeterValues with the EVSE's id. AlignedDataCtrlr.Measurands chooses the measurands. Samples at the
instants of AlignedDataCtrlr.TxEndedInterval are kept per transaction and sent in its Ended event.

Interval 0 (the default) is off: the operator turns it on with SetVariables. MeterValues are not transaction
related: they go through the store's queue like TransactionEvents while OCPPCommCtrlr QueueAllMessages is true
(the default), and are dropped while offline when it is false (the spec's queueing rule).

The energy register is the connector's Modbus meter; without a fresh reading, outside a transaction the
register is left out rather than guessed (inside one the service's own readings stand in, as for
MeterValuePeriodic).
"""
from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from controller.ocpp.transactions import timestamp

log = logging.getLogger(__name__)

DAY_S = 86_400.0
POLL_S = 0.1  # how often the clock is looked at; it may be an injected one that jumps
MAX_ENDED_SAMPLES = 200  # TxEndedInterval samples kept per transaction (the Ended event stays small)
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "SoC")
DEFAULT_MEASURANDS = "Energy.Active.Import.Register"
UNITS = {"Energy.Active.Import.Register": "Wh", "Power.Active.Import": "W", "Current.Import": "A", "Voltage": "V"}


def next_instant(now: float, interval: float) -> float:
    """The first clock-aligned instant after `now`: a multiple of `interval` counted from midnight UTC (the
    last one of a day that `interval` does not divide is midnight)."""
    midnight = math.floor(now / DAY_S) * DAY_S
    instant = midnight + (math.floor((now - midnight) / interval) + 1) * interval
    return min(instant, midnight + DAY_S)


def chosen(sampled: list[dict], measurands: str) -> list[dict]:
    wanted = {m.strip() for m in measurands.split(",") if m.strip()}
    return [s for s in sampled if s.get("measurand") in wanted]


class ClockAlignedMeter:
    def __init__(self, service: Any):
        """`service`: the OcppService (its clock, device model, connectors, transactions and queue)."""
        self._service = service
        self._next: dict[str, float] = {}  # "Interval" / "TxEndedInterval" -> the next instant
        self._ended: dict[str, list[dict]] = {}  # transactionId -> TxEndedInterval samples
        self.looked_at: float | None = None  # the clock's time at the last tick (tests wait for it)

    def _setting(self, name: str) -> str:
        return self._service.device_model.get({"name": "AlignedDataCtrlr"}, {"name": name}, None)[1] or ""

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self.tick()
            except Exception:  # e.g. the store's disk is full: the next instant tries again
                log.exception("OCPP: clock-aligned meter values failed")

    def tick(self) -> None:
        """Send what is due at the clock's present time (called every POLL_S)."""
        now = self._service.clock()
        self.looked_at = now
        for name in ("Interval", "TxEndedInterval"):
            try:
                interval = int(self._setting(name) or 0)
            except ValueError:
                interval = 0
            if interval <= 0:
                self._next.pop(name, None)
                continue
            due = self._next.get(name)
            if due is None or due - now > interval:  # first look, a new interval, or the clock went back
                self._next[name] = next_instant(now, interval)
                continue
            if now < due:
                continue
            self._next[name] = next_instant(now, interval)  # instants missed while asleep are not made up
            if name == "Interval":
                self._send(due)
            else:
                self._keep_for_ended(due)

    def _send(self, t: float) -> None:
        service, measurands = self._service, self._setting("Measurands") or DEFAULT_MEASURANDS
        for evse, connector in service.connectors.items():
            tx = service.transactions.get(evse)
            if tx is not None:
                meter = self._tx_sample(connector, tx, t, measurands)
                service._enqueue(tx.event("Updated", "MeterValueClock", t, meter=meter), tx)
                continue
            sampled = chosen(idle_readings(connector, "Sample.Clock"), measurands)
            if sampled:
                service._enqueue_message("MeterValues", {"evseId": evse, "meterValue": [
                    {"timestamp": timestamp(t), "sampledValue": sampled}]})

    def _keep_for_ended(self, t: float) -> None:
        service, measurands = self._service, self._setting("TxEndedMeasurands") or DEFAULT_MEASURANDS
        running = {tx.transaction_id for tx in service.transactions.values()}
        for gone in set(self._ended) - running:  # ended (or lost) transactions' samples
            del self._ended[gone]
        for evse, tx in service.transactions.items():
            meter = self._tx_sample(service.connectors[evse], tx, t, measurands)
            if meter:
                kept = self._ended.setdefault(tx.transaction_id, [])
                kept.extend(meter)
                del kept[:-MAX_ENDED_SAMPLES]

    def ended_samples(self, transaction_id: str) -> list[dict]:
        """The TxEndedInterval samples of a transaction that ends now (for its Ended event)."""
        return self._ended.pop(transaction_id, [])

    def _tx_sample(self, connector: Any, tx: Any, t: float, measurands: str) -> list[dict] | None:
        readings = self._service._meter(connector, tx, t, "Sample.Clock")
        if not readings:
            return None
        sampled = chosen(readings[0]["sampledValue"], measurands)
        return [{"timestamp": readings[0]["timestamp"], "sampledValue": sampled}] if sampled else None


def idle_readings(connector: Any, context: str) -> list[dict]:
    """sampledValues of a connector without a transaction: the meter's when fresh, else the output's
    measurements without an energy register."""
    meter = getattr(connector, "meter", None)
    values: dict[str, float] = {}
    if meter is not None and meter.fresh and meter.latest is not None:
        latest = meter.latest
        values = {"Energy.Active.Import.Register": latest.energy_import_wh, "Power.Active.Import": latest.power_w,
                  "Current.Import": latest.current_a, "Voltage": latest.voltage_v}
    else:
        snap = connector.snapshot()
        values = {"Power.Active.Import": snap["power_kw"] * 1000.0, "Current.Import": snap["current_a"],
                  "Voltage": snap["voltage_v"]}
    return [{"value": round(value, 1), "measurand": measurand, "context": context,
             "unitOfMeasure": {"unit": UNITS[measurand]}} for measurand, value in values.items()]
