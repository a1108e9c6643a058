"""SetChargingProfile's rejections (OCPP 2.0.1 K01), each with the reasonCode the CSMS sees in statusInfo.

Checked, in this order: smart charging enabled; the EVSE exists; the purpose fits the evseId (a station
maximum only on 0 and never Relative, a TxProfile never on 0, ChargingStationExternalConstraints never from the CSMS); the
TxProfile's transaction runs on that EVSE; the stack level within ProfileStackLevel; the unit in RateUnit;
one schedule; 1..PeriodsPerSchedule periods starting at 0 and ascending, limits finite and not negative (JSON
may carry NaN or Infinity); Absolute and
Recurring with a startSchedule, Recurring with its kind; validFrom before validTo; no other profile with the
same purpose and stack level on the same EVSE (same transaction for TxProfiles) whose validity overlaps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from controller.ocpp.smart_charging.profiles import EXTERNAL, STATION_MAX, TX, ChargingProfile


@dataclass(frozen=True)
class Settings:
    """SmartChargingCtrlr's values in force (controller/ocpp/smart_charging/desk.py reads the device model)."""
    enabled: bool = True
    max_stack_level: int = 8
    periods_per_schedule: int = 24
    rate_units: tuple[str, ...] = ("A", "W")


def rejection(profile: ChargingProfile, evses: Iterable[int], transactions: dict[int, str],
              installed: Iterable[ChargingProfile], settings: Settings) -> str | None:
    """None when the profile may be installed, else the reasonCode of the Rejected answer.
    `transactions`: evse -> the id of its running transaction."""
    if not settings.enabled:
        return "Disabled"
    if profile.evse != 0 and profile.evse not in set(evses):
        return "UnknownEvse"
    if profile.purpose == EXTERNAL:
        return "UnsupportedPurpose"  # only the station itself sets external constraints
    if profile.purpose == STATION_MAX and profile.evse != 0:
        return "InvalidEvse"
    if profile.purpose == STATION_MAX and profile.kind == "Relative":
        return "InvalidProfile"  # relative to a transaction's start: the station has none
    if profile.purpose == TX:
        if profile.evse == 0:
            return "InvalidEvse"
        if profile.transaction_id is None:
            return "MissingTransactionId"  # K01.FR.03: a TxProfile names its transaction
        if transactions.get(profile.evse) != profile.transaction_id:
            return "TxNotFound"  # none runs on that EVSE, or another one does
    elif profile.transaction_id is not None:
        return "InvalidProfile"  # only a TxProfile names a transaction
    if not 0 <= profile.stack_level <= settings.max_stack_level:
        return "InvalidStackLevel"
    if profile.unit not in settings.rate_units:
        return "UnsupportedRateUnit"
    if profile.schedule_count != 1:
        return "InvalidSchedule"  # more than one schedule is ISO 15118-20's choice, not offered here
    problem = _schedule_problem(profile, settings)
    if problem:
        return problem
    for other in installed:
        if _clashes(profile, other):
            return "DuplicateProfile"
    return None


def _schedule_problem(profile: ChargingProfile, settings: Settings) -> str | None:
    starts = [p.start_s for p in profile.periods]
    if not starts or len(starts) > settings.periods_per_schedule:
        return "InvalidSchedule"
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
        return "InvalidSchedule"
    if any(not math.isfinite(p.limit) or p.limit < 0 for p in profile.periods) or (profile.duration_s is not None and profile.duration_s <= 0):
        return "InvalidSchedule"
    if profile.kind in ("Absolute", "Recurring") and profile.start_schedule is None:
        return "InvalidSchedule"
    if profile.kind == "Recurring" and profile.recurrency not in ("Daily", "Weekly"):
        return "InvalidSchedule"
    if profile.valid_from is not None and profile.valid_to is not None and profile.valid_to <= profile.valid_from:
        return "InvalidValidity"
    return None


def _clashes(new: ChargingProfile, old: ChargingProfile) -> bool:
    """Same purpose and stack level on the same EVSE with overlapping validity, and not the one it replaces."""
    if old.id == new.id or old.purpose != new.purpose or old.stack_level != new.stack_level or old.evse != new.evse:
        return False
    if new.purpose == TX and old.transaction_id != new.transaction_id:
        return False
    inf = float("inf")
    new_from, new_to = new.valid_from or -inf, new.valid_to or inf
    old_from, old_to = old.valid_from or -inf, old.valid_to or inf
    return new_from < old_to and old_from < new_to
