"""OCPP 2.0.1 block I (tariff and cost) for the PriceBook (controller/pricing/, docs/pricing.md).

- The default tariff is the device model's TariffCostCtrlr: the standard Currency, TariffFallbackMessage
  (the default tariff's text) and TotalCostFallbackMessage (the receipt's text when the CSMS gave no total),
  plus our own decimal variables for the default prices (DefaultEnergyPrice, DefaultChargingMinutePrice,
  DefaultParkingMinutePrice, DefaultSessionFee). Their defaults are the cabinet's [pricing]; a value the CSMS
  sets is kept and applies to sessions whose price is not fixed yet.
- A transaction's own price: the TransactionEventResponse's updatedPersonalMessage is the text shown to the
  driver; the prices themselves come in its customData (vendorId VENDOR_ID, decimal strings). A text alone
  changes what is shown next to the price, never the price (the price shown must be the price applied).
- The CSMS's totalCost (TransactionEventResponse, CostUpdated) is kept next to the cost computed here; the
  Ended answer's is the final one.
- 2.0.1 has no field for the station's cost in a TransactionEvent: at each Updated the running cost is
  computed here, kept and logged beside the CSMS's (PriceBook.note_running), and sent in the event's customData
  (vendorId VENDOR_ID: runningCost as a decimal string, currency) once the price is fixed.
Enabled (instance Tariff / Cost) false: the CSMS's prices / totals are ignored; the default applies.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from controller.formats.cabinet.pricing import CURRENCY, BadPrice, PricingConfig, check_currency, parse_price
from controller.ocpp.device_model import RO, RW, DeviceModel, Variable
from controller.pricing.price_book import PriceBook
from controller.pricing.tariff import Tariff

log = logging.getLogger(__name__)

COMPONENT = "TariffCostCtrlr"
VENDOR_ID = "org.opendcfc.price"  # customData of a TransactionEventResponse carrying a transaction's prices
# our own variables: PriceBook field -> variable name
DEFAULT_PRICES = {"energy_price": "DefaultEnergyPrice", "charging_minute_price": "DefaultChargingMinutePrice",
                  "parking_minute_price": "DefaultParkingMinutePrice", "session_fee": "DefaultSessionFee"}
# customData key (camelCase, as sent) -> Tariff field
CUSTOM_KEYS = {"energyprice": "energy_price", "chargingminuteprice": "charging_minute_price",
               "parkingminuteprice": "parking_minute_price", "sessionfee": "session_fee"}


def tariff_variables(cfg: PricingConfig) -> list[tuple[Variable, str]]:
    """TariffCostCtrlr's variables with the cabinet's [pricing] as their defaults."""
    entries = [(Variable(COMPONENT, "Available", "boolean", RO, instance=kind), "true") for kind in ("Tariff", "Cost")]
    entries += [(Variable(COMPONENT, "Enabled", "boolean", RW, instance=kind), "true") for kind in ("Tariff", "Cost")]
    entries += [(Variable(COMPONENT, "Currency", "string", RW, accepts=lambda code: bool(CURRENCY.fullmatch(code))),
                 cfg.currency),
                (Variable(COMPONENT, "TariffFallbackMessage", "string", RW), cfg.text),
                (Variable(COMPONENT, "TotalCostFallbackMessage", "string", RW), cfg.total_cost_fallback_text)]
    entries += [(Variable(COMPONENT, name, "decimal", RW), getattr(cfg, field)) for field, name in DEFAULT_PRICES.items()]
    return entries


def _plain(data: Any) -> dict:
    """A nested answer dict with its keys lowered and without underscores (ocpp gives them snake_case)."""
    return {str(key).replace("_", "").lower(): value for key, value in (data or {}).items()}


class TariffCost:
    def __init__(self, device_model: DeviceModel, book: PriceBook | None):
        self._model = device_model
        self.book = book
        self._evse_of: dict[str, int] = {}  # open transactions: transactionId -> evse
        if book is not None:
            book.default_source = self.default_tariff

    def _text(self, name: str, instance: str | None = None) -> str:
        return self._model.text(COMPONENT, name, instance)

    def enabled(self, kind: str) -> bool:
        return self._text("Enabled", kind).lower() == "true"

    def default_tariff(self) -> Tariff:
        """The device model's default tariff, read at each use (a SetVariables applies at once)."""
        prices = {field: parse_price(self._text(name), name) for field, name in DEFAULT_PRICES.items()}
        return Tariff(**prices, currency=check_currency(self._text("Currency")), text=self._text("TariffFallbackMessage"))

    def total_cost_fallback(self) -> str:
        return self._text("TotalCostFallbackMessage")

    # ---- the station's TransactionEvents (service._enqueue) -------------------------------------------------
    def note_event(self, payload: dict, evse: int) -> None:
        try:
            self._note_event(payload, evse)
        except Exception:  # prices must never disturb the transaction's events
            log.exception("OCPP: the price of transaction %s not followed", payload["transactionInfo"]["transactionId"])

    def _note_event(self, payload: dict, evse: int) -> None:
        if self.book is None:
            return
        tx_id = payload["transactionInfo"]["transactionId"]
        if payload["eventType"] == "Ended":
            if self._evse_of.pop(tx_id, None) is not None:
                self.book.withdraw(evse)  # the next driver sees the default again
            return
        self._evse_of[tx_id] = evse
        self.book.bind(evse, tx_id)
        if payload["eventType"] == "Updated":
            figures = self.book.note_running(evse)
            if figures is not None and figures.session.fixed:
                payload["customData"] = {"vendorId": VENDOR_ID, "runningCost": str(figures.cost),
                                         "currency": figures.session.tariff.currency}

    # ---- the CSMS's answers and requests ---------------------------------------------------------------------
    def answered(self, payload: dict, answer: Any) -> None:
        """A TransactionEventResponse: the transaction's own price and text, and the CSMS's total."""
        try:
            self._answered(payload, answer)
        except Exception:  # a strange answer must not keep the rest of it (idTokenInfo) from being read
            log.exception("OCPP: the price in the answer to %s not read", payload["transactionInfo"]["transactionId"])

    def _answered(self, payload: dict, answer: Any) -> None:
        if self.book is None:
            return
        tx_id = payload["transactionInfo"]["transactionId"]
        message = _plain(getattr(answer, "updated_personal_message", None)).get("content", "")
        message = message or _plain(_plain(getattr(answer, "id_token_info", None)).get("personalmessage")).get(
            "content", "")
        tariff = self._tariff_in(getattr(answer, "custom_data", None), message)
        if not self.enabled("Tariff"):  # neither the CSMS's price nor its tariff text
            tariff, message = None, ""
        evse = self._evse_of.get(tx_id)
        if tariff is not None and evse is not None:
            self.book.offer(evse, tariff, tx_id)
        elif message and tariff is None:
            self.book.note_message(tx_id, message)
        total = getattr(answer, "total_cost", None)
        if total is not None and self.enabled("Cost"):
            self.book.csms_total(tx_id, Decimal(str(total)), message if tariff is None else "")

    def cost_updated(self, total_cost: float, transaction_id: str) -> None:
        """CostUpdated: the CSMS's running total (I04)."""
        if self.book is not None and self.enabled("Cost"):
            if not self.book.csms_total(transaction_id, Decimal(str(total_cost))):
                log.info("OCPP: CostUpdated for transaction %s, which has no priced session here", transaction_id)

    def _tariff_in(self, custom_data: Any, message: str) -> Tariff | None:
        data = _plain(custom_data)
        if data.get("vendorid") != VENDOR_ID:
            return None
        try:
            prices = {field: parse_price(data.get(key, "0"), key) for key, field in CUSTOM_KEYS.items()}
            currency = check_currency(str(data.get("currency") or self._text("Currency")))
        except BadPrice as exc:
            log.warning("OCPP: the CSMS's price for a transaction is not usable (%s); the default stays", exc)
            return None
        return Tariff(**prices, currency=currency, text=message, source="csms")
