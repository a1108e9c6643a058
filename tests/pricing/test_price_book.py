"""controller/pricing/price_book.py and display.py: the price shown before a session is the one applied at its
end, a new default mid-session changes nothing for it, and the store keeps the receipt data."""
from __future__ import annotations

from decimal import Decimal

import pytest

from controller.formats.cabinet.pricing import PricingConfig
from controller.formats.events import PhaseChanged, SessionEnded, SessionStarted
from controller.pricing.display import PriceDisplay
from controller.pricing.price_book import PriceBook
from controller.pricing.tariff import Tariff
from controller.store.session_prices import SessionPriceStore

pytestmark = pytest.mark.timeout(10)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def _summary(cls, sid: str, connector: int, start_t: float, end_t: float | None = None, kwh: float = 0.0):
    return cls(session_id=sid, connector=connector, evcc_id="", start_t=start_t, end_t=end_t, energy_kwh=kwh,
               peak_kw=0.0, stop_reason="ev_stop" if end_t else "", fault_codes=(), energy_source="modules",
               meter_start_wh=None)


def _book(tmp_path=None, **prices) -> tuple[PriceBook, Clock, dict]:
    clock, energy = Clock(), {}
    store = SessionPriceStore(tmp_path / "store.db" if tmp_path else None)
    book = PriceBook(PricingConfig(**prices), store, live_energy_wh=energy.get, clock=clock)
    return book, clock, energy


def test_the_price_shown_before_start_is_applied_at_the_end_and_stored(tmp_path):
    book, clock, energy = _book(tmp_path, energy_price="0.50", session_fee="1.00")
    display = PriceDisplay(book)
    shown = display.price_before_start(1)
    assert shown["energy_price"] == "0.50" and shown["fixed"] is False and shown["source"] == "default"
    book.on_event(_summary(SessionStarted, "S1", 1, 1_000.0))
    assert display.running_cost(1)["cost"] == "0.00"  # nothing fixed, nothing owed before energy flows
    book.on_event(PhaseChanged(1, "charging", 1_010.0))
    clock.t, energy[1] = 1_070.0, 5_000.0
    running = display.running_cost(1)
    assert running["cost"] == "3.50" and running["energy_kwh"] == "5.000" and running["charging_s"] == 60
    book.on_event(PhaseChanged(1, "stopping", 1_110.0))
    book.on_event(_summary(SessionEnded, "S1", 1, 1_000.0, 1_120.0, kwh=10.0))
    receipt = display.receipt("S1")
    shown_tariff = {key: value for key, value in shown.items() if key not in ("connector", "fixed")}
    assert receipt["tariff_shown"] == receipt["tariff_applied"] == shown_tariff
    assert Tariff.from_json(receipt["tariff_shown"]).same_price(Tariff.from_json(receipt["tariff_applied"]))
    assert receipt["final_cost"] == "6.00" and receipt["energy_kwh"] == "10.0" and receipt["currency"] == "USD"
    assert receipt["charging_s"] == 100.0 and receipt["parking_s"] == 10.0
    assert receipt["message"] == PricingConfig().total_cost_fallback_text  # no CSMS total: the fallback text
    book.close()
    again = SessionPriceStore(tmp_path / "store.db")  # on disk: a restart still has the receipt
    assert again.get("S1")["final_cost"] == "6.00"
    again.close()


def test_a_new_default_mid_session_leaves_the_running_session_its_price():
    book, clock, energy = _book(energy_price="0.40")
    display = PriceDisplay(book)
    book.on_event(_summary(SessionStarted, "S1", 1, 1_000.0))
    book.on_event(PhaseChanged(1, "charging", 1_001.0))
    book.default_source = lambda: Tariff(energy_price=Decimal("0.99"))  # the operator raises the default
    assert display.price_before_start(1)["energy_price"] == "0.40"  # the session's own, fixed
    assert display.price_before_start(2)["energy_price"] == "0.99"  # a driver at the other connector sees the new
    book.on_event(_summary(SessionEnded, "S1", 1, 1_000.0, 1_100.0, kwh=10.0))
    assert display.receipt("S1")["final_cost"] == "4.00"
    assert display.price_before_start(1)["energy_price"] == "0.99"  # the next session gets the new default


def test_a_default_change_before_energy_flows_is_what_the_driver_is_shown_and_pays():
    book, clock, energy = _book(energy_price="0.40")
    book.on_event(_summary(SessionStarted, "S1", 1, 1_000.0))
    book.default_source = lambda: Tariff(energy_price=Decimal("0.30"))
    assert PriceDisplay(book).price_before_start(1)["energy_price"] == "0.30"
    book.on_event(PhaseChanged(1, "charging", 1_001.0))
    book.on_event(_summary(SessionEnded, "S1", 1, 1_000.0, 1_100.0, kwh=10.0))
    assert PriceDisplay(book).receipt("S1")["final_cost"] == "3.00"


def test_a_csms_price_is_taken_before_energy_flows_and_refused_after():
    book, clock, energy = _book(energy_price="0.40")
    mine = Tariff(energy_price=Decimal("0.25"), text="Member price $0.25/kWh", source="csms")
    assert book.offer(1, mine, "TX1")
    book.on_event(_summary(SessionStarted, "S1", 1, 1_000.0))
    assert PriceDisplay(book).price_before_start(1)["text"] == "Member price $0.25/kWh"
    book.on_event(PhaseChanged(1, "charging", 1_001.0))
    assert not book.offer(1, Tariff(energy_price=Decimal("0.90"), source="csms"), "TX1")  # too late
    assert book.csms_total("TX1", Decimal("2.40"))
    book.on_event(_summary(SessionEnded, "S1", 1, 1_000.0, 1_100.0, kwh=10.0))
    receipt = PriceDisplay(book).receipt("S1")
    assert receipt["final_cost"] == "2.50" and receipt["tariff_applied"]["source"] == "csms"
    assert receipt["transaction_id"] == "TX1" and receipt["csms_total_cost"] == "2.40" and receipt["message"] == ""
    assert book.csms_total("TX1", Decimal("2.50"))  # the final total, answered after the session ended
    assert PriceDisplay(book).receipt("S1")["csms_total_cost"] == "2.50"
    book.withdraw(1)
    assert PriceDisplay(book).price_before_start(1)["source"] == "default"


def test_a_session_that_never_charged_costs_nothing():
    book, clock, energy = _book(energy_price="0.40", session_fee="1.00")
    book.on_event(_summary(SessionStarted, "S1", 1, 1_000.0))
    book.on_event(_summary(SessionEnded, "S1", 1, 1_000.0, 1_100.0, kwh=0.0))
    assert PriceDisplay(book).receipt("S1")["final_cost"] == "0.00"


def test_the_default_falls_back_to_the_cabinet_when_its_source_fails():
    book, _, _ = _book(energy_price="0.40")

    def broken() -> Tariff:
        raise ValueError("stored value unreadable")
    book.default_source = broken
    assert PriceDisplay(book).price_before_start(1)["energy_price"] == "0.40"


def test_session_ids_that_count_again_after_a_restart_keep_both_receipts(tmp_path):
    first, _, _ = _book(tmp_path, energy_price="0.40")
    first.on_event(_summary(SessionStarted, "0000000000000001", 1, 1_000.0))
    first.on_event(PhaseChanged(1, "charging", 1_001.0))
    first.on_event(_summary(SessionEnded, "0000000000000001", 1, 1_000.0, 1_100.0, kwh=10.0))
    first.close()
    second, _, _ = _book(tmp_path, energy_price="0.50")  # the controller restarted: session ids from 1 again
    second.on_event(_summary(SessionStarted, "0000000000000001", 1, 5_000.0))
    second.on_event(PhaseChanged(1, "charging", 5_001.0))
    second.on_event(_summary(SessionEnded, "0000000000000001", 1, 5_000.0, 5_100.0, kwh=10.0))
    assert PriceDisplay(second).receipt("0000000000000001")["final_cost"] == "5.00"  # the latest
    assert [row["final_cost"] for row in second.store.recent()] == ["5.00", "4.00"]  # the first one is kept


def test_what_the_csms_said_before_energy_flowed_is_on_the_receipt():
    book, _, _ = _book(energy_price="0.40")
    book.on_event(_summary(SessionStarted, "S1", 1, 1_000.0))
    book.bind(1, "TX9")
    book.note_message("TX9", "Welcome back")
    assert book.csms_total("TX9", Decimal("0.00"))  # before the price was fixed: kept in memory only
    book.on_event(PhaseChanged(1, "charging", 1_001.0))
    book.on_event(_summary(SessionEnded, "S1", 1, 1_000.0, 1_100.0, kwh=1.0))
    receipt = PriceDisplay(book).receipt("S1")
    assert receipt["message"] == "Welcome back" and receipt["csms_total_cost"] == "0.00"
