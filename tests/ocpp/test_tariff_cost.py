"""OCPP 2.0.1 block I (controller/ocpp/tariff_cost.py) with the rig's CSMS on loopback: the transaction's own
price from the TransactionEventResponse, fixed when energy flows; the CSMS's totalCost and CostUpdated kept
beside the station's own figure; TariffCostCtrlr's default prices set by SetVariables apply to the next
session only; every frame valid against the 2.0.1 schemas."""
from __future__ import annotations

import contextlib
import random
from decimal import Decimal

import pytest

from controller.connector.session import SessionRecord
from controller.formats.cabinet.pricing import PricingConfig
from controller.formats.events import SessionEnded, SessionStarted
from controller.ocpp import OcppService
from controller.ocpp.tariff_cost import VENDOR_ID
from controller.pricing.display import PriceDisplay
from controller.pricing.price_book import PriceBook
from hil.csms import CsmsSimulator
from tests.ocpp.harness import PASSWORD, STATION, FakeConnector, run_async, station_config

pytestmark = pytest.mark.timeout(30)
MEMBER_PRICE = {"vendorId": VENDOR_ID, "energyPrice": "0.25", "sessionFee": "0.50", "currency": "USD"}


@contextlib.asynccontextmanager
async def priced_station(connector: FakeConnector, csms: CsmsSimulator):
    url = await csms.start()
    book = PriceBook(PricingConfig(energy_price="0.40"),
                     live_energy_wh=lambda cid: connector.session.energy_wh if connector.session else None)
    service = OcppService(station_config(url), STATION, [connector], rng=random.Random(1), prices=book)

    def sink(event) -> None:  # in the app's order: the price book first, then the OCPP service
        book.on_event(event)
        service.on_event(event)
    connector.sink = sink
    await service.start()
    try:
        yield service, book, PriceDisplay(book, service.tariff_cost.total_cost_fallback)
    finally:
        await service.close()
        await csms.stop()


def _session(connector: FakeConnector, event_cls, end_t=None):
    record = connector.session or connector.last_session
    summary = {**record.to_json(), "end_t": end_t, "energy_kwh": round(record.energy_wh / 1000, 4)}
    connector.sink(event_cls(**summary))


def _answer_with_member_price(event: dict) -> dict:
    if event["event_type"] == "Started":
        return {"updated_personal_message": {"format": "UTF8", "content": "Member price: $0.25/kWh + $0.50"},
                "custom_data": MEMBER_PRICE}
    if event["event_type"] == "Ended":
        return {"total_cost": 2.13}
    return {}


@run_async
async def test_the_transactions_own_price_is_shown_before_start_applied_at_the_end_and_totals_kept():
    connector, csms = FakeConnector(1), CsmsSimulator(password=PASSWORD)
    csms.transaction_answer = _answer_with_member_price
    async with priced_station(connector, csms) as (service, book, display):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert display.price_before_start(1)["energy_price"] == "0.40"  # nobody plugged in: the default
        connector.move("plugged")  # TxStartPoint EVConnected: Started, answered with the member price
        await csms.wait_for(lambda: book.offered(1).source == "csms", 5)
        connector.session = SessionRecord(connector_id=1, start_t=0.0, session_id="SESSION-A")
        _session(connector, SessionStarted)
        shown = display.price_before_start(1)
        assert shown["text"] == "Member price: $0.25/kWh + $0.50" and shown["energy_price"] == "0.25"
        for state in ("negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge", "charging"):
            connector.move(state)  # charging: 1.5 kWh, and the price is fixed
        tx_id = csms.calls("TransactionEvent")[0]["transactionInfo"]["transactionId"]
        assert (await csms.cost_updated(STATION, tx_id, 0.85)) is not None
        assert display.running_cost(1)["csms_total_cost"] == "0.85"
        assert book.open[1].running[-1][1] == Decimal("0.88")  # Updated ChargingStateChanged: 1.5 kWh * 0.25 + 0.50
        noted = len(book.open[1].running)
        service.trigger("TransactionEvent", 1)  # an Updated: the station's running cost is computed and kept
        await csms.wait_for(lambda: len(book.open[1].running) > noted, 5)
        assert book.open[1].running[-1][1] == Decimal("0.88")
        await csms.wait_for(lambda: len([e for e in csms.calls("TransactionEvent") if e.get("customData")]) >= 2, 5)
        updated = [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Updated" and e.get("customData")]
        assert updated[-1]["customData"] == {"vendorId": "org.opendcfc.price", "runningCost": "0.88",
                                             "currency": "USD"}  # the running cost on the wire, every Updated
        connector.move("session_end")
        connector.move("available")  # EVDeparted: Ended, answered with the final total
        _session(connector, SessionEnded, end_t=1.0)
        await csms.wait_for(lambda: (display.receipt("SESSION-A") or {}).get("csms_total_cost") == "2.13", 5)
        receipt = display.receipt("SESSION-A")
        assert receipt["tariff_shown"] == receipt["tariff_applied"]
        assert {k: v for k, v in shown.items() if k not in ("connector", "fixed")} == receipt["tariff_applied"]
        assert receipt["final_cost"] == "0.88" and receipt["transaction_id"] == tx_id
        assert display.price_before_start(1)["energy_price"] == "0.40"  # the next driver: the default again
    assert csms.violations == []


@run_async
async def test_a_default_price_set_mid_session_by_the_csms_waits_for_the_next_session():
    connector, csms = FakeConnector(1), CsmsSimulator(password=PASSWORD)
    async with priced_station(connector, csms) as (service, book, display):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.move("plugged")
        connector.session = SessionRecord(connector_id=1, start_t=0.0, session_id="SESSION-B")
        _session(connector, SessionStarted)
        for state in ("negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge", "charging"):
            connector.move(state)
        answer = await csms.set_variables(STATION, [
            {"component": {"name": "TariffCostCtrlr"}, "variable": {"name": "DefaultEnergyPrice"},
             "attributeValue": "0.60"},
            {"component": {"name": "TariffCostCtrlr"}, "variable": {"name": "DefaultSessionFee"},
             "attributeValue": "-1"},
            {"component": {"name": "TariffCostCtrlr"}, "variable": {"name": "Currency"}, "attributeValue": "usd"}])
        assert [r["attribute_status"] for r in answer.set_variable_result] == ["Accepted", "Rejected", "Rejected"]
        assert display.price_before_start(1)["energy_price"] == "0.40" and display.price_before_start(1)["fixed"]
        connector.move("session_end")
        connector.move("available")
        _session(connector, SessionEnded, end_t=1.0)
        receipt = display.receipt("SESSION-B")
        assert receipt["final_cost"] == "0.60" and receipt["tariff_applied"]["energy_price"] == "0.40"
        assert receipt["message"] == PricingConfig().total_cost_fallback_text  # no totalCost from this CSMS
        assert display.price_before_start(1)["energy_price"] == "0.60"  # the next session's default
    assert csms.violations == []


@run_async
async def test_tariff_enabled_false_ignores_the_csms_price_and_its_text():
    connector, csms = FakeConnector(1), CsmsSimulator(password=PASSWORD)
    csms.transaction_answer = lambda event: {**_answer_with_member_price(event), "total_cost": 0.0}
    async with priced_station(connector, csms) as (service, book, display):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        answer = await csms.set_variables(STATION, [
            {"component": {"name": "TariffCostCtrlr"}, "variable": {"name": "Enabled", "instance": "Tariff"},
             "attributeValue": "false"}])
        assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
        connector.session = SessionRecord(connector_id=1, start_t=0.0, session_id="SESSION-C")
        _session(connector, SessionStarted)
        connector.move("plugged")
        await csms.wait_for(lambda: book.open[1].csms_total_cost is not None, 5)  # the Started answer was read
        assert display.price_before_start(1)["source"] == "default" and book.open[1].csms_message == ""
    assert csms.violations == []


@run_async
async def test_tariff_cost_ctrlr_is_in_the_full_report_with_the_cabinets_prices():
    connector, csms = FakeConnector(1), CsmsSimulator(password=PASSWORD)
    async with priced_station(connector, csms) as (service, book, display):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await csms.get_base_report(STATION, 9, "FullInventory")).status == "Accepted"
        parts = await csms.wait_for(lambda: [p for p in csms.calls("NotifyReport") if p["requestId"] == 9
                                             and not p.get("tbc", False)] and csms.calls("NotifyReport"), 5)
    entries = [e for p in parts if p["requestId"] == 9 for e in p["reportData"]
               if e["component"]["name"] == "TariffCostCtrlr"]
    values = {(e["variable"]["name"], e["variable"].get("instance")): e["variableAttribute"][0]["value"]
              for e in entries}
    assert values[("DefaultEnergyPrice", None)] == "0.40" and values[("Currency", None)] == "USD"
    assert values[("Enabled", "Tariff")] == values[("Available", "Cost")] == "true"
    assert {e["variableCharacteristics"]["dataType"] for e in entries
            if e["variable"]["name"].startswith("Default")} == {"decimal"}
    assert csms.violations == []  # "decimal" is one of 2.0.1's data types: the reports pass the schemas


def test_a_broken_answer_is_logged_and_never_raises(caplog):
    from types import SimpleNamespace

    from controller.ocpp.tariff_cost import TariffCost

    class Broken:
        def text(self, *args):
            raise KeyError("no such variable")
    tariff_cost = TariffCost(Broken(), PriceBook(PricingConfig()))  # type: ignore[arg-type]
    payload = {"eventType": "Updated", "transactionInfo": {"transactionId": "T"}}
    tariff_cost.answered(payload, SimpleNamespace(total_cost=1.0, custom_data={"vendorId": VENDOR_ID}))
    assert "not read" in caplog.text
