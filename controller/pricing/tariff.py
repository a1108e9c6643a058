"""A tariff and the cost of a session under it, in exact decimal arithmetic (Python's Decimal).

Prices are Decimals parsed from text ("0.45"), never from binary floats, so that a price the operator set
is the price applied, to the cent. Quantities are rounded before they are priced, the way a receipt shows
them: energy to the watt-hour (0.001 kWh), times to the second, half up from their decimal text. The total is rounded once, half up, to the
currency's cents (ROUND_HALF_UP, the rounding of retail receipts).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from controller.formats.cabinet.pricing import BadPrice, PricingConfig, check_currency, parse_price

__all__ = ["BadPrice", "Tariff", "check_currency", "money", "parse_price"]

CENT = Decimal("0.01")


def whole(quantity: float | Decimal) -> Decimal:
    """A quantity (Wh, s) to a whole unit, half up, from its decimal text (a float's repr, not its binary)."""
    return Decimal(str(quantity)).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Tariff:
    """What a session costs: per kWh, per minute of charging, per minute parked after charging, per session."""
    energy_price: Decimal = Decimal(0)  # per kWh delivered
    charging_minute_price: Decimal = Decimal(0)  # per minute while energy flows
    parking_minute_price: Decimal = Decimal(0)  # per minute plugged in after charging ended (idle fee)
    session_fee: Decimal = Decimal(0)  # once per session that delivered energy
    currency: str = "USD"
    text: str = ""  # the tariff as the driver reads it; empty: made from the prices (describe)
    source: str = "default"  # "default" (device model / cabinet) or "csms" (this transaction's own)

    def cost(self, energy_wh: float | Decimal, charging_s: float, parking_s: float) -> Decimal:
        """The session's cost in the currency, rounded to cents. No energy: nothing to pay."""
        wh = max(Decimal(0), whole(energy_wh))
        if wh == 0:
            return money(Decimal(0))
        kwh = wh / 1000
        charging_min = max(Decimal(0), whole(charging_s)) / 60
        parking_min = max(Decimal(0), whole(parking_s)) / 60
        return money(self.session_fee + kwh * self.energy_price + charging_min * self.charging_minute_price
                     + parking_min * self.parking_minute_price)

    def describe(self) -> str:
        """The text a screen shows: the operator's own, or the prices spelled out."""
        if self.text:
            return self.text
        parts = [f"{_amount(self.energy_price)} {self.currency}/kWh"]
        for amount, unit in ((self.charging_minute_price, "/min charging"),
                             (self.parking_minute_price, "/min parked after charging"),
                             (self.session_fee, " per session")):
            if amount:
                parts.append(f"{_amount(amount)} {self.currency}{unit}")
        return " + ".join(parts)

    def to_json(self) -> dict:
        """Prices as decimal strings (exact), as stored and shown on the console."""
        return {"energy_price": str(self.energy_price), "charging_minute_price": str(self.charging_minute_price),
                "parking_minute_price": str(self.parking_minute_price), "session_fee": str(self.session_fee),
                "currency": self.currency, "text": self.describe(), "source": self.source}

    @classmethod
    def from_json(cls, data: dict) -> "Tariff":
        return cls(**{name: parse_price(data.get(name, "0"), name) for name in PRICE_FIELDS},
                   currency=check_currency(data.get("currency", "USD")), text=str(data.get("text", "")),
                   source=str(data.get("source", "default")))

    def same_price(self, other: "Tariff") -> bool:
        """The same prices and currency (the text may be worded otherwise)."""
        return all(getattr(self, name) == getattr(other, name) for name in PRICE_FIELDS) and \
            self.currency == other.currency


def _amount(price: Decimal) -> str:
    """A price as a screen shows it: at least cents (0.4 -> 0.40), more places only when it has them."""
    price = price.normalize()
    return f"{price:f}" if price.as_tuple().exponent < -2 else f"{price.quantize(CENT):f}"  # type: ignore[operator]


PRICE_FIELDS = ("energy_price", "charging_minute_price", "parking_minute_price", "session_fee")


def tariff_of_config(cfg: PricingConfig) -> Tariff:
    """The cabinet's default tariff ([pricing]); the values were checked when the file was read."""
    return Tariff(**{name: parse_price(getattr(cfg, name), name) for name in PRICE_FIELDS},
                  currency=cfg.currency, text=cfg.text)
