"""The price scenarios through the whole rig (hil/csms/role_price.py, docs/pricing.md): a car over DIN 70121,
the controller in this process and the rig's CSMS. What a screen would show before energy flows is read
through the controller's PriceDisplay while the car gets ready; the store must keep the same price applied."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from hil.csms.role_price import DEFAULT_PRICE, NEW_DEFAULT_PRICE, TX_PRICE, TX_TEXT
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


async def _run_watching_the_screen(name: str) -> tuple[dict, list[str], list[dict], object]:
    """Run the scenario; meanwhile note what price_before_start(1) shows until connector 1 charges."""
    runs: list = []
    shown: list[dict] = []

    async def watch() -> None:
        for _ in range(6000):  # 20 ms apart: at most two minutes
            app = getattr(runs[0].controller, "app", None) if runs and runs[0].controller else None
            if app is not None and app.price_display is not None and app.connectors:
                if app.connectors[0].state == "charging":
                    return
                shown.append(app.price_display.price_before_start(1))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        report, problems = await run_scenario(name, load_setup("desk"), protocol="din", on_run=runs.append)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    return report, problems, shown, runs[0]


def _tariff(shown: dict) -> dict:
    return {key: value for key, value in shown.items() if key not in ("connector", "fixed")}


def test_the_price_shown_before_start_is_the_price_applied_and_the_store_keeps_it():
    report, problems, shown, _ = asyncio.run(_run_watching_the_screen("price"))
    assert not problems, (problems, report["ocpp"].get("price"))
    price = report["ocpp"]["price"]
    row = price["sessions"][-1]
    applied = json.loads(row["tariff_applied"])
    assert shown and shown[0]["energy_price"] == DEFAULT_PRICE  # before the CSMS's answer: the default
    assert _tariff(shown[-1]) == json.loads(row["tariff_shown"]) == applied  # just before energy flowed
    assert applied["energy_price"] == TX_PRICE["energyPrice"] and applied["text"] == TX_TEXT
    assert applied["source"] == "csms" and row["transaction_id"] == price["priced_tx"]
    # the CSMS priced the register's energy between its events, the station its session's: a Wh apart at most
    assert abs(Decimal(row["final_cost"]) - Decimal(row["csms_total_cost"])) <= Decimal("0.01")
    assert report["ocpp"]["violations"] == [] and report["connectors"][0]["energy_kwh"] > 0


def test_a_default_raised_mid_session_leaves_the_running_session_its_price():
    report, problems, shown, run = asyncio.run(_run_watching_the_screen("price-default-change"))
    assert not problems, (problems, report["ocpp"].get("price"))
    assert report["ocpp"]["notes"] == [f"SetVariables TariffCostCtrlr DefaultEnergyPrice {NEW_DEFAULT_PRICE}: "
                                       "Accepted"]
    row = report["ocpp"]["price"]["sessions"][-1]
    assert _tariff(shown[-1]) == json.loads(row["tariff_shown"]) == json.loads(row["tariff_applied"])
    assert json.loads(row["tariff_applied"])["energy_price"] == DEFAULT_PRICE
    assert run.controller.app.price_display.price_before_start(1)["energy_price"] == NEW_DEFAULT_PRICE  # the next
