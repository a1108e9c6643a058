"""The rig's CSMS in the price scenarios (OCPP 2.0.1 block I; docs/pricing.md).

`price`: the cabinet's default is DEFAULT_PRICE per kWh; the CSMS answers the first connector's Started
TransactionEvent with that transaction's own price (customData, vendorId org.opendcfc.price, and the text in
updatedPersonalMessage), sends CostUpdated while it charges and answers the Ended event with its totalCost.
The controller's store must then hold, for that session, the CSMS's price as the tariff shown before energy
flowed and as the tariff applied at the end, with the final cost of the energy under it.

`price-default-change`: no price of the CSMS's own; while the first car charges, the CSMS raises the default
(SetVariables TariffCostCtrlr.DefaultEnergyPrice to NEW_DEFAULT_PRICE). The running session must keep the
default it was shown (DEFAULT_PRICE shown and applied).

The controller's store is read as a file (the rig never imports the controller): table session_prices.
Whatever goes otherwise is written to `problems`, which fail the verdict.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hil.csms.rig_role import RigCsms

ROLES = ("price", "price-default-change")
VENDOR_ID = "org.opendcfc.price"
DEFAULT_PRICE = "0.40"
NEW_DEFAULT_PRICE = "0.55"
TX_PRICE = {"energyPrice": "0.30", "sessionFee": "1.00", "currency": "USD"}
TX_TEXT = "Your price: $0.30/kWh + $1.00 per session"
COST_UPDATED = 0.5  # the CSMS's running total it sends once while charging
STORE_FILE = "controller-store.db"


class PriceRole:
    def __init__(self, rig_csms: RigCsms):
        self.rig = rig_csms
        self.csms = rig_csms.csms
        self.role = rig_csms.role
        self.problems: list[str] = []
        self.store = rig_csms.folder / STORE_FILE
        self.priced_tx: str | None = None  # the transaction the CSMS gave its own price
        if self.role == "price":
            self.csms.transaction_answer = self._answer

    def overrides(self) -> list[str]:
        return [f'store.path="{self.store}"', f'pricing.energy_price="{DEFAULT_PRICE}"']

    def _answer(self, event: dict[str, Any]) -> dict:
        """Fields added to a TransactionEventResponse (snake_case, as ocpp's dataclass takes them)."""
        info = event.get("transaction_info", {})
        if event.get("event_type") == "Started" and self.priced_tx is None and event.get("evse", {}).get("id") == 1:
            self.priced_tx = info.get("transaction_id")
            return {"updated_personal_message": {"format": "UTF8", "content": TX_TEXT},
                    "custom_data": {"vendorId": VENDOR_ID, **TX_PRICE}}
        if event.get("event_type") == "Ended" and info.get("transaction_id") == self.priced_tx:
            return {"total_cost": float(self._csms_cost(event))}
        return {}

    def _csms_cost(self, event: dict) -> Decimal:
        """The CSMS's own bill of the transaction from the energy register in its events (as a CSMS does)."""
        registers = [float(s["value"]) for e in self.rig._events(1) for m in e.get("meterValue", ())
                     for s in m["sampledValue"] if s.get("measurand") == "Energy.Active.Import.Register"]
        registers += [float(s["value"]) for m in event.get("meter_value", ()) for s in m["sampled_value"]
                      if s.get("measurand") == "Energy.Active.Import.Register"]
        kwh = Decimal(round(max(registers) - min(registers))) / 1000 if registers else Decimal(0)
        return (kwh * Decimal(TX_PRICE["energyPrice"]) + Decimal(TX_PRICE["sessionFee"])).quantize(Decimal("0.01"))

    async def play(self, station: str, ids: list[int], timeout_s: float) -> None:
        await self.csms.wait_for(lambda: any(e["transactionInfo"].get("chargingState") == "Charging"
                                             for e in self.rig._events(ids[0])), timeout_s)
        tx_id = self.rig._events(ids[0])[0]["transactionInfo"]["transactionId"]
        if self.role == "price":
            await self.csms.cost_updated(station, tx_id, COST_UPDATED)
            self.rig.notes.append(f"CostUpdated {tx_id}: {COST_UPDATED}")
        else:
            answer = await self.csms.set_variables(station, [
                {"component": {"name": "TariffCostCtrlr"}, "variable": {"name": "DefaultEnergyPrice"},
                 "attributeValue": NEW_DEFAULT_PRICE}])
            status = answer.set_variable_result[0]["attribute_status"]
            self.rig.notes.append(f"SetVariables TariffCostCtrlr DefaultEnergyPrice {NEW_DEFAULT_PRICE}: {status}")
            if status != "Accepted":
                self.problems.append(f"price: the new default was answered {status}")

    def rows(self) -> list[dict]:
        if not self.store.exists():
            return []
        conn = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute("SELECT * FROM session_prices ORDER BY start_t")]
        except sqlite3.Error:
            return []
        finally:
            conn.close()

    async def settle(self, ids: list[int], timeout_s: float) -> None:
        """Wait (bounded) until the first connector's session has its final cost in the store, and for `price`
        the CSMS's final total too (its answer to Ended arrives after the session's end)."""
        def done() -> bool:
            rows = [r for r in self.rows() if r["connector"] == ids[0] and r["final_cost"] is not None]
            return bool(rows) and (self.role != "price" or rows[-1]["csms_total_cost"] is not None)
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        self._judge(ids[0])

    def _judge(self, connector: int) -> None:
        rows = [r for r in self.rows() if r["connector"] == connector]
        if not rows or rows[-1]["final_cost"] is None:
            self.problems.append(f"price: no priced session of connector {connector} ended in the store")
            return
        row = rows[-1]
        shown, applied = json.loads(row["tariff_shown"] or "null"), json.loads(row["tariff_applied"] or "null")
        if shown != applied:
            self.problems.append(f"price: the tariff shown ({shown}) is not the tariff applied ({applied})")
        wanted = TX_PRICE["energyPrice"] if self.role == "price" else DEFAULT_PRICE
        if not applied or applied.get("energy_price") != wanted:
            self.problems.append(f"price: the session was priced at {applied and applied.get('energy_price')} "
                                 f"per kWh, expected {wanted}")
        if self.role == "price" and row["csms_total_cost"] is None:
            self.problems.append("price: the CSMS's final totalCost is not kept with the session")
        if applied:
            kwh = Decimal(row["energy_kwh"])
            wh = (kwh * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)  # to the Wh, as a receipt shows it
            expected = (wh / 1000 * Decimal(applied["energy_price"]) + Decimal(applied["session_fee"])) \
                if wh > 0 else Decimal(0)
            expected = expected.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if Decimal(row["final_cost"]) != expected:
                self.problems.append(f"price: final cost {row['final_cost']} for {kwh} kWh, expected {expected}")

    def report(self) -> dict:
        return {"problems": list(self.problems), "sessions": self.rows(), "priced_tx": self.priced_tx}
