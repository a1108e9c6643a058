"""Each connector's price: offered before a session, fixed when energy starts to flow, applied at its end.

The PriceBook follows the app's events (a sink like the store recorder): SessionStarted opens a priced
session, the first PhaseChanged to "charging" fixes its tariff (the one a screen shows at that instant,
kept as "shown"), SessionEnded prices it with that same tariff ("applied") and writes the receipt data to
the store. Until energy flows the driver may still see the price change (a CSMS answer with the driver's
own price, a new default); from then on nothing changes it: a new default applies to the next session, and a
CSMS price that arrives later is noted and refused.

Where the default comes from is given as a function (the cabinet's [pricing], or the OCPP device model's
TariffCostCtrlr when OCPP is on), so this package never imports the OCPP service.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from controller.formats.cabinet.pricing import PricingConfig
from controller.formats.events import Event, PhaseChanged, SessionEnded, SessionStarted
from controller.pricing.tariff import Tariff, tariff_of_config
from controller.store.session_prices import SessionPriceStore

log = logging.getLogger(__name__)

CHARGING = "charging"
RECENT_ENDED = 32  # ended sessions kept in memory for answers (totalCost) that come after their end


@dataclass
class PricedSession:
    session_id: str
    connector: int
    start_t: float
    tariff: Tariff  # offered until fixed_t, then fixed
    fixed_t: float | None = None
    transaction_id: str | None = None
    charging_s: float = 0.0  # time with energy flowing, up to charging_since
    charging_since: float | None = None
    last_charging_end_t: float | None = None  # parking (idle) time counts from here
    end_t: float | None = None
    final_cost: Decimal | None = None
    energy_kwh: Decimal | None = None
    csms_total_cost: Decimal | None = None
    csms_message: str = ""
    running: list[tuple[float, Decimal]] = field(default_factory=list)  # (t, cost) at each OCPP Updated

    @property
    def fixed(self) -> bool:
        return self.fixed_t is not None

    def times(self, now: float) -> tuple[float, float]:
        """(charging seconds, parking seconds) up to `now`."""
        charging = self.charging_s + (now - self.charging_since if self.charging_since is not None else 0.0)
        parking = 0.0 if self.charging_since is not None or self.last_charging_end_t is None else \
            max(0.0, now - self.last_charging_end_t)
        return charging, parking


@dataclass(frozen=True)
class RunningCost:
    session: PricedSession
    cost: Decimal
    energy_wh: float
    charging_s: float
    parking_s: float


class PriceBook:
    def __init__(self, cfg: PricingConfig, store: SessionPriceStore | None = None, *,
                 live_energy_wh: Callable[[int], float | None] = lambda connector: None,
                 clock: Callable[[], float] = time.time):
        """`live_energy_wh(connector)`: the energy of the connector's open session so far (None: none)."""
        self.config = cfg
        self.store = store if store is not None else SessionPriceStore()
        self._config_tariff = tariff_of_config(cfg)
        self.default_source: Callable[[], Tariff] = lambda: self._config_tariff  # OCPP replaces it
        self._live_energy_wh = live_energy_wh
        self._clock = clock
        self.open: dict[int, PricedSession] = {}  # by connector
        self.ended: dict[str, PricedSession] = {}  # by session id, the last RECENT_ENDED
        self._offers: dict[int, tuple[Tariff, str | None]] = {}  # connector -> (CSMS price, transactionId)

    # ---- what is offered and fixed ------------------------------------------------------------------------
    def default(self) -> Tariff:
        try:
            return self.default_source()
        except Exception:  # a bad stored value must never hide the price: the cabinet's own then
            log.exception("pricing: the default tariff could not be read; the cabinet's [pricing] is shown")
            return self._config_tariff

    def offered(self, connector: int) -> Tariff:
        """What a driver at this connector is shown now: a fixed session's tariff, else the CSMS's price for
        this transaction, else the default."""
        session = self.open.get(connector)
        if session is not None and session.fixed:
            return session.tariff
        offer = self._offers.get(connector)
        return offer[0] if offer is not None else self.default()

    def offer(self, connector: int, tariff: Tariff, transaction_id: str | None = None) -> bool:
        """A CSMS's price for the connector's transaction; False when its session's price is fixed already."""
        session = self.open.get(connector)
        if session is not None and session.fixed:
            log.warning("pricing: connector %d: a new price (%s) came after the session's price was fixed; "
                        "the session keeps %s", connector, tariff.describe(), session.tariff.describe())
            return False
        self._offers[connector] = (tariff, transaction_id)
        if session is not None:
            session.tariff = tariff
        return True

    def withdraw(self, connector: int) -> None:
        """The transaction the offer was for has ended: the next driver sees the default again."""
        self._offers.pop(connector, None)

    # ---- the app's events ---------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, SessionStarted):
            self._started(event)
        elif isinstance(event, PhaseChanged):
            self._phase(event.connector, event.state, event.t)
        elif isinstance(event, SessionEnded):
            self._ended(event)

    def _started(self, event: SessionStarted) -> None:
        offer = self._offers.get(event.connector)
        self.open[event.connector] = PricedSession(event.session_id, event.connector, event.start_t,
                                                   self.offered(event.connector),
                                                   transaction_id=offer[1] if offer else None)

    def _phase(self, connector: int, state: str, t: float) -> None:
        session = self.open.get(connector)
        if session is None:
            return
        if state == CHARGING and session.charging_since is None:
            if not session.fixed:
                self._fix(session, t)
            session.charging_since = t
        elif state != CHARGING and session.charging_since is not None:
            session.charging_s += max(0.0, t - session.charging_since)
            session.charging_since = None
            session.last_charging_end_t = t

    def _fix(self, session: PricedSession, t: float) -> None:
        """Energy starts to flow: the tariff shown now is the session's for good."""
        session.tariff = self.offered(session.connector)
        session.fixed_t = t
        log.info("pricing: connector %d session %s: price fixed: %s", session.connector, session.session_id,
                 session.tariff.describe())
        self._save(session, fixed_t=t, tariff_shown=session.tariff.to_json(), currency=session.tariff.currency,
                   connector=session.connector, transaction_id=session.transaction_id)

    def _ended(self, event: SessionEnded) -> None:
        session = self.open.pop(event.connector, None)
        if session is None or session.session_id != event.session_id:
            return
        end_t = event.end_t if event.end_t is not None else self._clock()
        if session.charging_since is not None:  # the last charging time ends with the session
            session.charging_s += max(0.0, end_t - session.charging_since)
            session.charging_since = None
            session.last_charging_end_t = end_t
        session.end_t = end_t
        session.energy_kwh = Decimal(str(event.energy_kwh))
        charging_s, parking_s = session.times(end_t)
        session.final_cost = session.tariff.cost(session.energy_kwh * 1000, charging_s, parking_s) \
            if session.fixed else session.tariff.cost(0.0, 0.0, 0.0)  # never charged: nothing to pay
        self.ended[session.session_id] = session
        while len(self.ended) > RECENT_ENDED:
            self.ended.pop(next(iter(self.ended)))
        log.info("pricing: connector %d session %s: %s kWh, cost %s %s", session.connector, session.session_id,
                 session.energy_kwh, session.final_cost, session.tariff.currency)
        self._save(session, connector=session.connector, fixed_t=session.fixed_t,
                   end_t=end_t, tariff_applied=session.tariff.to_json(), energy_kwh=str(session.energy_kwh),
                   charging_s=round(charging_s, 3), parking_s=round(parking_s, 3),
                   final_cost=str(session.final_cost), currency=session.tariff.currency,
                   transaction_id=session.transaction_id, csms_message=session.csms_message or None,
                   csms_total_cost=None if session.csms_total_cost is None else str(session.csms_total_cost))

    # ---- figures while it runs ----------------------------------------------------------------------------
    def running_cost(self, connector: int) -> RunningCost | None:
        """The connector's open session so far; None without one. Nothing is owed before the price is fixed."""
        session = self.open.get(connector)
        if session is None:
            return None
        energy = self._live_energy_wh(connector) or 0.0
        charging_s, parking_s = session.times(self._clock())
        cost = session.tariff.cost(energy, charging_s, parking_s) if session.fixed else Decimal("0.00")
        return RunningCost(session, cost, energy, charging_s, parking_s)

    # ---- the CSMS's figures (controller/ocpp/tariff_cost.py) ----------------------------------------------
    def bind(self, connector: int, transaction_id: str) -> None:
        """The connector's open session belongs to this OCPP transaction."""
        session = self.open.get(connector)
        if session is not None and session.transaction_id != transaction_id:
            session.transaction_id = transaction_id
            if session.fixed:
                self._save(session, transaction_id=transaction_id, connector=connector,
                           currency=session.tariff.currency)

    def by_transaction(self, transaction_id: str) -> PricedSession | None:
        for session in [*self.open.values(), *reversed(self.ended.values())]:
            if session.transaction_id == transaction_id:
                return session
        return None

    def csms_total(self, transaction_id: str, total_cost: Decimal, message: str = "") -> bool:
        """The CSMS's running or final total for a transaction, kept next to ours (False: no such session)."""
        session = self.by_transaction(transaction_id)
        if session is None:
            return False
        session.csms_total_cost = total_cost
        session.csms_message = message or session.csms_message
        log.info("pricing: transaction %s: CSMS total %s, ours %s", transaction_id, total_cost,
                 session.final_cost if session.final_cost is not None else "running")
        if session.fixed or session.end_t is not None:
            self._save(session, connector=session.connector,
                       currency=session.tariff.currency, csms_total_cost=str(total_cost),
                       csms_message=session.csms_message or None)
        return True

    def note_message(self, transaction_id: str, message: str) -> None:
        """A text from the CSMS for the driver (no price in it): shown beside the price, kept on the receipt."""
        session = self.by_transaction(transaction_id)
        if session is not None:
            session.csms_message = message
            if session.fixed or session.end_t is not None:
                self._save(session, connector=session.connector,
                           currency=session.tariff.currency, csms_message=message)

    def note_running(self, connector: int) -> RunningCost | None:
        """Compute and keep the running cost now (at each TransactionEvent Updated); None without a session."""
        figures = self.running_cost(connector)
        if figures is None:
            return None
        session, cost, energy = figures.session, figures.cost, figures.energy_wh
        session.running.append((self._clock(), cost))
        del session.running[:-100]  # the last hundred are enough for a screen or a technician
        log.info("pricing: connector %d transaction %s: running cost %s %s at %.0f Wh (CSMS: %s)", connector,
                 session.transaction_id, cost, session.tariff.currency, energy,
                 session.csms_total_cost if session.csms_total_cost is not None else "none yet")
        return figures

    def _save(self, session: PricedSession, **values: object) -> None:
        try:
            self.store.save(session.session_id, session.start_t, **values)
        except Exception:  # a full disk must not stop a session: the price is still in memory for the screen
            log.exception("pricing: session %s not stored", session.session_id)

    def close(self) -> None:
        self.store.close()
