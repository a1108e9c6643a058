"""The composite schedule of an EVSE: what limit is in force when, from the installed profiles (pure).

At an instant the station's limit is the ChargingStationMaxProfile of the highest stack level that sets one
then (a profile whose schedule has ended, or that is not valid, sets none and the next one down applies). The
EVSE's own limit is its transaction's TxProfile of the highest stack level setting one, else the
TxDefaultProfile of the highest stack level (one installed on this EVSE before one on evseId 0 at the same
level). The composite is the smallest of: the EVSE's share of the station limit, its own limit, its ceiling
(what the cable and the modules give; in force where no profile sets a limit).

Units: a limit in A is a DC output current; where W and A meet they are converted at `voltage_v` (W = A x V),
which the caller gives: the EVSE's present output voltage, or the cable's highest while idle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from controller.ocpp.smart_charging.profiles import STATION_MAX, TX, TX_DEFAULT, ChargingProfile, Period


@dataclass(frozen=True)
class Limit:
    unit: str  # W or A
    value: float

    def to(self, unit: str, voltage_v: float) -> float:
        if unit == self.unit:
            return self.value
        if voltage_v <= 0:
            return float("inf") if unit == "A" else 0.0
        return self.value * voltage_v if unit == "W" else self.value / voltage_v


@dataclass(frozen=True)
class TxContext:
    """The EVSE's transaction, if any: its id (for TxProfile) and when it started (for Relative profiles)."""
    transaction_id: str | None = None
    started: float | None = None


def _winner(profiles: Iterable[ChargingProfile], t: float, tx_start: float | None, evse: int) -> Limit | None:
    best: tuple[int, int, Limit] | None = None
    for profile in profiles:
        limit = profile.limit_at(t, tx_start)
        if limit is None:
            continue
        rank = (profile.stack_level, 1 if profile.evse == evse else 0)
        if best is None or rank > best[:2]:
            best = (*rank, Limit(profile.unit, limit))
    return best[2] if best else None


def station_limit_at(profiles: Iterable[ChargingProfile], t: float) -> Limit | None:
    return _winner([p for p in profiles if p.purpose == STATION_MAX], t, None, 0)


def evse_limit_at(profiles: Iterable[ChargingProfile], evse: int, t: float, tx: TxContext) -> Limit | None:
    """The EVSE's own limit: TxProfile of its transaction, else TxDefaultProfile (its own or evseId 0)."""
    profiles = list(profiles)
    start = tx.started if tx.started is not None else t
    if tx.transaction_id is not None:
        own = [p for p in profiles if p.purpose == TX and p.evse == evse and p.transaction_id == tx.transaction_id]
        found = _winner(own, t, start, evse)
        if found is not None:
            return found
    defaults = [p for p in profiles if p.purpose == TX_DEFAULT and p.evse in (0, evse)]
    return _winner(defaults, t, start, evse)


def relevant(profiles: Iterable[ChargingProfile], evse: int, tx: TxContext) -> list[ChargingProfile]:
    """The profiles that can set a limit on this EVSE (evse 0: the station's only)."""
    found = []
    for p in profiles:
        if p.purpose == STATION_MAX or (evse and p.purpose == TX_DEFAULT and p.evse in (0, evse)) or (
                evse and p.purpose == TX and p.evse == evse and p.transaction_id == tx.transaction_id):
            found.append(p)
    return found


def limit_at(profiles: list[ChargingProfile], evse: int, t: float, unit: str, *, tx: TxContext, voltage_v: float,
             ceiling: float, share: Callable[[Limit], Limit]) -> float:
    """The composite limit at `t` in `unit`. `share(station)`: this EVSE's part of the station's limit
    (evse 0: the station's whole limit)."""
    value = ceiling
    station = station_limit_at(profiles, t)
    if station is not None:
        value = min(value, (share(station) if evse else station).to(unit, voltage_v))
    if evse:
        own = evse_limit_at(profiles, evse, t, tx)
        if own is not None:
            value = min(value, own.to(unit, voltage_v))
    return value


def composite(profiles: list[ChargingProfile], evse: int, t0: float, duration_s: float, unit: str, *, tx: TxContext,
              voltage_v: float, ceiling: float, share: Callable[[Limit], Limit] = lambda s: s) -> list[Period]:
    """The composite schedule from `t0` for `duration_s`: periods (seconds from t0, exact, not rounded; limit),
    ascending, the first at 0, no two neighbours alike. The limit is constant between the profiles' boundaries,
    so it is evaluated once at the start of each piece."""
    mine = relevant(profiles, evse, tx)
    start = tx.started if tx.started is not None else t0
    tx = TxContext(tx.transaction_id, start)  # a Relative profile without a transaction starts at t0 throughout
    edges = {t0}
    for profile in mine:
        edges.update(profile.boundaries(t0, t0 + duration_s, start))
    periods: list[Period] = []
    for edge in sorted(edges):
        value = limit_at(mine, evse, edge, unit, tx=tx, voltage_v=voltage_v, ceiling=ceiling, share=share)
        if not periods or periods[-1].limit != value:
            periods.append(Period(edge - t0, value))
    return periods
