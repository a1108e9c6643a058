"""The one narrow interface a screen uses for prices (docs/pricing.md): three questions, plain dicts back.

- price_before_start(connector): the tariff a driver at that connector is shown now; once energy flows it
  is the session's fixed tariff, the same one its receipt applies.
- running_cost(connector): the open session's energy, times and cost so far (None without a session).
- receipt(session_id): an ended session's receipt data from the store (None when unknown).

Amounts are decimal strings ("12.34"), never floats, so a screen shows exactly what is stored. The console's
`status` shows the same figures.
"""
from __future__ import annotations

from typing import Callable

from controller.pricing.price_book import PriceBook


class PriceDisplay:
    def __init__(self, book: PriceBook, total_cost_fallback: Callable[[], str] | None = None):
        """`total_cost_fallback()`: the receipt's text when the CSMS gave no total (TotalCostFallbackMessage)."""
        self._book = book
        self._fallback = total_cost_fallback or (lambda: book.config.total_cost_fallback_text)

    def price_before_start(self, connector: int) -> dict:
        tariff = self._book.offered(connector)
        session = self._book.open.get(connector)
        return {**tariff.to_json(), "connector": connector, "fixed": bool(session is not None and session.fixed)}

    def running_cost(self, connector: int) -> dict | None:
        figures = self._book.running_cost(connector)
        if figures is None:
            return None
        session = figures.session
        return {"connector": connector, "session_id": session.session_id, "transaction_id": session.transaction_id,
                "fixed": session.fixed, "tariff": session.tariff.to_json(),
                "energy_kwh": f"{figures.energy_wh / 1000:.3f}", "charging_s": round(figures.charging_s),
                "parking_s": round(figures.parking_s), "cost": str(figures.cost),
                "currency": session.tariff.currency,
                "csms_total_cost": None if session.csms_total_cost is None else str(session.csms_total_cost),
                "message": session.csms_message}

    def receipt(self, session_id: str) -> dict | None:
        row = self._book.store.get(session_id)
        if row is None or row["final_cost"] is None:
            return None
        message = row["csms_message"] or ("" if row["csms_total_cost"] is not None else self._fallback())
        return {"session_id": session_id, "connector": row["connector"], "transaction_id": row["transaction_id"],
                "start_t": row["start_t"], "end_t": row["end_t"], "tariff_shown": row["tariff_shown"],
                "tariff_applied": row["tariff_applied"], "energy_kwh": row["energy_kwh"],
                "charging_s": row["charging_s"], "parking_s": row["parking_s"], "final_cost": row["final_cost"],
                "currency": row["currency"], "csms_total_cost": row["csms_total_cost"], "message": message}
