"""The console's `status` shows each connector's price and, in a session, its cost so far (docs/pricing.md)."""
from __future__ import annotations

import json

import pytest

from controller.formats.cabinet.pricing import PricingConfig
from controller.formats.events import PhaseChanged, SessionStarted
from controller.pricing.display import PriceDisplay
from controller.pricing.price_book import PriceBook
from tests.console.test_cabinet_view import FakeCabinet, _answers

pytestmark = pytest.mark.timeout(30)


class PricedCabinet(FakeCabinet):
    def __init__(self, book: PriceBook):
        super().__init__()
        self.display = PriceDisplay(book)

    def prices(self):
        return self.display


def test_status_shows_the_price_before_a_session_and_the_cost_during_it():
    energy = {1: 0.0}
    book = PriceBook(PricingConfig(energy_price="0.45"), live_energy_wh=energy.get, clock=lambda: 1_060.0)
    cabinet = PricedCabinet(book)
    before, before_json = _answers(cabinet, ["status", "json status"])
    assert "  price: 0.45 USD/kWh (default)" in before.splitlines()
    assert json.loads(before_json)["data"]["connectors"][0]["price"]["energy_price"] == "0.45"
    book.on_event(SessionStarted(session_id="S1", connector=1, evcc_id="", start_t=1_000.0, end_t=None,
                                 energy_kwh=0.0, peak_kw=0.0, stop_reason="", fault_codes=(),
                                 energy_source="modules", meter_start_wh=None))
    book.on_event(PhaseChanged(1, "charging", 1_000.0))
    energy[1] = 10_000.0
    during, = _answers(cabinet, ["status"])
    assert "  price: 0.45 USD/kWh (default, fixed)  cost 4.50 USD for 10.000 kWh" in during.splitlines()


def test_status_without_prices_has_no_price_line():
    text, = _answers(FakeCabinet(), ["status"])
    assert "price:" not in text
