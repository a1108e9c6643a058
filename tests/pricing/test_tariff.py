"""controller/pricing/tariff.py and the cabinet's [pricing]: exact prices, a session's cost, one-line errors."""
from __future__ import annotations

from decimal import Decimal

import pytest

from controller.formats.cabinet.loader import ConfigError
from controller.formats.cabinet.pricing import BadPrice, PricingConfig, parse_price
from controller.formats.cabinet.loader import build
from controller.pricing.tariff import Tariff, tariff_of_config

pytestmark = pytest.mark.timeout(10)


def test_a_price_is_parsed_exactly_and_bad_ones_are_refused_in_one_line():
    assert parse_price("0.45") == Decimal("0.45") and parse_price(0.1) == Decimal("0.1")
    assert parse_price("0.450000000") == Decimal("0.45")  # trailing zeros are not extra places
    for bad, why in (("-1", "0 or more"), ("abc", "not a decimal"), ("NaN", "finite"), ("0.1234567", "6 decimal"),
                     (True, "expected a decimal"), (None, "expected a decimal")):
        with pytest.raises(BadPrice, match=why) as caught:
            parse_price(bad, "energy_price")
        assert "\n" not in str(caught.value) and str(caught.value).startswith("energy_price: ")


def test_cost_is_exact_decimal_rounded_once_half_up_to_cents():
    tariff = Tariff(energy_price=Decimal("0.45"), charging_minute_price=Decimal("0.05"),
                    parking_minute_price=Decimal("0.40"), session_fee=Decimal("1.00"))
    # 12.346 kWh * 0.45 = 5.5557; 10 min * 0.05 = 0.50; 1.5 min * 0.40 = 0.60; + 1.00 = 7.6557
    assert tariff.cost(12_345.6, 600, 90) == Decimal("7.66")
    assert Tariff(energy_price=Decimal("0.10")).cost(1_005, 0, 0) == Decimal("0.10")  # 0.1005 -> 0.10
    assert Tariff(energy_price=Decimal("0.10")).cost(1_050, 0, 0) == Decimal("0.11")  # 0.105 half up
    # a float sum would give 0.30000000000000004 for 0.1 + 0.2; Decimal keeps 0.30
    assert Tariff(energy_price=Decimal("0.1"), session_fee=Decimal("0.2")).cost(1_000, 0, 0) == Decimal("0.30")


def test_a_session_without_energy_costs_nothing_not_even_its_fee():
    assert Tariff(session_fee=Decimal("2.00"), parking_minute_price=Decimal("1")).cost(0.3, 0, 600) == Decimal("0.00")


def test_the_text_is_the_operators_or_the_prices_spelled_out():
    spelled = Tariff(energy_price=Decimal("0.4"), session_fee=Decimal("1"), parking_minute_price=Decimal("0.125"))
    assert spelled.describe() == "0.40 USD/kWh + 0.125 USD/min parked after charging + 1.00 USD per session"
    assert Tariff(text="$0.45/kWh").describe() == "$0.45/kWh"
    again = Tariff.from_json(spelled.to_json())
    assert again.same_price(spelled) and again.to_json() == spelled.to_json()


def test_pricing_config_gives_the_default_tariff_and_names_a_bad_key():
    cfg = build(PricingConfig, {"energy_price": "0.49", "session_fee": "0.99", "currency": "USD"}, "pricing")
    tariff = tariff_of_config(cfg)
    assert tariff.energy_price == Decimal("0.49") and tariff.session_fee == Decimal("0.99")
    with pytest.raises(ConfigError) as caught:
        build(PricingConfig, {"energy_price": "0,49"}, "pricing")
    assert str(caught.value) == "config error at 'pricing.energy_price': '0,49' is not a decimal number"
    with pytest.raises(ConfigError, match="pricing.energy_price.*expected a string"):
        build(PricingConfig, {"energy_price": 0.49}, "pricing")  # a float would not be exact: quotes needed
    with pytest.raises(ConfigError, match="pricing.currency.*three capital letters"):
        build(PricingConfig, {"currency": "usd"}, "pricing")
