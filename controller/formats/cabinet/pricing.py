"""The cabinet file's [pricing]: the default tariff, and the text form every price is written in.

Prices are decimal strings ("0.45"), read with Python's Decimal: a TOML float would be a binary number, and
the price the operator wrote must be the price applied, to the cent. controller/pricing/ uses the same
parsing for the prices the CSMS sets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from controller.formats.cabinet.loader import ConfigError

MAX_PLACES = 6  # a price has at most 6 decimal places (OCPP's decimals carry 6 too)
CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217 alphabetic code


class BadPrice(ValueError):
    """A price or currency that cannot be a tariff's; the message says which and why, in one line."""


def parse_price(text: object, what: str = "price") -> Decimal:
    """A non-negative decimal with at most MAX_PLACES places, from text (or an int / a JSON number)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float, Decimal)):
        raise BadPrice(f"{what}: expected a decimal such as \"0.45\", got {text!r}")
    try:
        value = Decimal(str(text).strip())  # str() of a float is its shortest repr: 0.45 stays 0.45
    except InvalidOperation:
        raise BadPrice(f"{what}: {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise BadPrice(f"{what}: must be a finite amount of 0 or more (got {text!r})")
    if value.normalize().as_tuple().exponent < -MAX_PLACES:  # type: ignore[operator]
        raise BadPrice(f"{what}: at most {MAX_PLACES} decimal places (got {text!r})")
    return value


def check_currency(code: str) -> str:
    if not CURRENCY.fullmatch(code or ""):
        raise BadPrice(f"currency: an ISO 4217 code of three capital letters such as \"USD\" (got {code!r})")
    return code


@dataclass(frozen=True)
class PricingConfig:
    """The default tariff, shown before a session and fixed for it (OCPP TariffCostCtrlr may override it)."""
    currency: str = "USD"  # ISO 4217 code of every price (OCPP TariffCostCtrlr.Currency)
    energy_price: str = "0"  # per kWh, a decimal in quotes ("0.45") so it stays exact
    charging_minute_price: str = "0"  # per minute while energy flows, a decimal in quotes
    parking_minute_price: str = "0"  # per minute plugged in after charging ended (idle fee), a decimal in quotes
    session_fee: str = "0"  # once per session that delivered energy, a decimal in quotes
    text: str = ""  # the tariff as drivers read it (TariffFallbackMessage); empty: made from the prices
    # the receipt's text when the CSMS gave no total cost (TotalCostFallbackMessage)
    total_cost_fallback_text: str = "The final cost will be on your statement"  # receipt text without the CSMS's total

    def check(self) -> None:
        for name in ("energy_price", "charging_minute_price", "parking_minute_price", "session_fee"):
            try:
                parse_price(getattr(self, name), name)
            except BadPrice as exc:
                raise ConfigError(name, str(exc).partition(": ")[2]) from None
        try:
            check_currency(self.currency)
        except BadPrice as exc:
            raise ConfigError("currency", str(exc).partition(": ")[2]) from None
        for name, longest in (("text", 512), ("total_cost_fallback_text", 512)):  # OCPP's MessageContent
            if len(getattr(self, name)) > longest:
                raise ConfigError(name, f"at most {longest} characters (got {len(getattr(self, name))})")
