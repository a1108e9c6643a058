"""The service's side of smart charging: SetChargingProfile, ClearChargingProfile, GetChargingProfiles (the
reports follow in ReportChargingProfiles, in parts), GetCompositeSchedule, and the limits fed to the connectors.

Every connector's Limits reads `evse_limit(evse)` on each call (controller/connector/limits.py's external hook):
the EVSE's own composite limit now and its share of the station's (station_split.py), computed at most every
LIMIT_CACHE_S, so a profile set or cleared, or a car joining or leaving, is in the next CurrentDemandRes (the car asks every 100-250
ms), a period boundary or a car's own limits changing within LIMIT_CACHE_S. `station_limit_w()` is the station-wide limit for the power-sharing allocator (its external_limit_w).

A Relative profile counts from the transaction's start as this desk first sees it (the next limit read or
check after TransactionEvent Started, within CHECK_S). TxProfiles end with their transaction. With
SmartChargingCtrlr.Enabled false every profile stays installed but none limits.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from ocpp.charge_point import snake_to_camel_case

from controller.connector.table import PLUGGED_STATES
from controller.ocpp.smart_charging.composite import Limit, TxContext, composite, evse_limit_at, station_limit_at
from controller.ocpp.smart_charging.installed import InstalledProfiles
from controller.ocpp.smart_charging.profiles import ChargingProfile, format_time
from controller.ocpp.smart_charging.station_split import share_of
from controller.ocpp.smart_charging.variables import CTRLR, settings
from controller.store.ocpp_profiles import ProfileStore

log = logging.getLogger(__name__)

CHECK_S = 0.5  # how often ended transactions' profiles are dropped and the schedules recomputed
# a limit is computed at most this often per EVSE (the control path reads it several times per request; a
# profile set or cleared and a car joining or leaving are in force at once, a period boundary within this)
LIMIT_CACHE_S = 0.1
REPORT_PART = 10  # profiles per ReportChargingProfiles
SCHEDULE_S = 86_400  # the schedule ISO-2 cars get: 24 h
MAX_COMPOSITE_S = 7 * 86_400  # GetCompositeSchedule's longest answer
INF = math.inf
MAX_REPORTED = 1e9  # JSON has no infinity: an EVSE that states no ceiling of its own (a stand-in) shows this


class SmartChargingDesk:
    def __init__(self, service: Any, store: ProfileStore | None = None):
        """`service`: the OcppService (connectors, transactions, device model, clock, its queue)."""
        self._service = service
        self.installed = InstalledProfiles(store)
        self._tx_started: dict[str, float] = {}
        # evse -> (the EVSEs in use then, its power schedule): recomputed every CHECK_S or on a change
        self._schedules: dict[int, tuple[tuple[int, ...], tuple[tuple[int, float], ...]]] = {}
        self._pending_reports: list[dict] = []
        self._last: dict[int, tuple[float, float]] = {}  # the last limit given per EVSE (kept if one fails)
        self._failed: set[int] = set()  # EVSEs whose limit failed (logged once until it works again)
        # evse -> (monotonic time, the EVSEs in use then, limit)
        self._cache: dict[int, tuple[float, tuple[int, ...], tuple[float, float]]] = {}
        service.device_model.live[(CTRLR, "Entries")] = lambda: str(len(self.installed.by_id))
        for evse, connector in service.connectors.items():
            limits = getattr(connector, "limits", None)  # a stand-in without Limits is left as it is
            if limits is not None:
                limits.external = lambda evse=evse: self.evse_limit(evse)
                limits.power_schedule = lambda evse=evse: self.power_schedule(evse)

    # ---- the CSMS's requests ------------------------------------------------------------------------------
    def set_profile(self, evse: int, profile: dict) -> tuple[str, dict | None]:
        data = snake_to_camel_case(profile)  # ocpp gives the handlers snake_case; kept as the CSMS wrote it
        reason = self.installed.set(evse, data, self._service.connectors, self._running(),
                                    settings(self._service.device_model))
        self._changed()
        if reason is not None:
            log.info("OCPP: SetChargingProfile %s on evse %d rejected: %s", data.get("id"), evse, reason)
            return "Rejected", {"reasonCode": reason}
        return "Accepted", None

    def clear(self, profile_id: int | None, criteria: dict | None) -> str:
        criteria = criteria or {}
        if profile_id is None and not criteria:
            gone = self.installed.clear(None, None, None, None)  # neither: every profile
        else:
            gone = self.installed.clear(profile_id, criteria.get("evse_id"), criteria.get("charging_profile_purpose"),
                                        criteria.get("stack_level"))
        self._changed()
        return "Accepted" if gone else "Unknown"

    def get_profiles(self, request_id: int, evse: int | None, criterion: dict) -> str:
        """Accepted (the reports go out after the answer: send_reports) or NoProfiles."""
        found = self.installed.select(evse, criterion.get("charging_profile_purpose"), criterion.get("stack_level"),
                                      criterion.get("charging_profile_id"), criterion.get("charging_limit_source"))
        if not found:
            return "NoProfiles"
        parts: list[tuple[int, list[ChargingProfile]]] = []
        for evse_id in sorted({p.evse for p in found}):
            mine = [p for p in found if p.evse == evse_id]
            parts += [(evse_id, mine[i:i + REPORT_PART]) for i in range(0, len(mine), REPORT_PART)]
        self._pending_reports += [{"requestId": request_id, "chargingLimitSource": "CSO", "evseId": evse_id,
                                   "chargingProfile": [p.json for p in part], "tbc": n < len(parts) - 1}
                                  for n, (evse_id, part) in enumerate(parts)]
        return "Accepted"

    def send_reports(self) -> None:
        """After the GetChargingProfiles answer went out: its ReportChargingProfiles into the service's queue."""
        reports, self._pending_reports = self._pending_reports, []
        for payload in reports:
            self._service._enqueue_message("ReportChargingProfiles", payload)

    def composite_schedule(self, duration: int, evse: int, unit: str | None) -> tuple[str, dict | None, dict | None]:
        service = self._service
        unit = unit or "W"
        if evse != 0 and evse not in service.connectors:
            return "Rejected", None, {"reasonCode": "UnknownEvse"}
        if unit not in settings(service.device_model).rate_units or duration <= 0:
            return "Rejected", None, {"reasonCode": "UnsupportedRateUnit" if duration > 0 else "InvalidValue"}
        duration = min(duration, MAX_COMPOSITE_S)
        now = math.floor(service.clock())  # the answer's scheduleStart has whole seconds
        periods = self._composite(evse, now, duration, unit)
        rows: list[dict] = []
        for period in periods:
            start, limit = int(round(period.start_s)), round(min(period.limit, MAX_REPORTED), 1)
            if rows and rows[-1]["startPeriod"] == start:
                rows.pop()  # two changes inside one second: the later one is the one that holds
            if not rows or rows[-1]["limit"] != limit:
                rows.append({"startPeriod": start, "limit": limit})
        return "Accepted", {"evseId": evse, "duration": duration, "scheduleStart": format_time(now),
                            "chargingRateUnit": unit, "chargingSchedulePeriod": rows}, None

    # ---- the limits -----------------------------------------------------------------------------------------
    def evse_limit(self, evse: int) -> tuple[float, float]:
        """(W, A) the EVSE may deliver now by the profiles: its own composite and its share of the station's.
        Read in the connector's control path: a failure here keeps the last limit given, never ends charging
        and never lifts a limit."""
        if not self.installed.by_id or not self._enabled():
            return INF, INF
        in_use = tuple(self._in_use())  # a car joining or leaving changes every share at once
        cached = self._cache.get(evse)
        if cached is not None and cached[1] == in_use and time.monotonic() - cached[0] < LIMIT_CACHE_S:
            return cached[2]
        try:
            limit = self._evse_limit(evse)
        except Exception:
            if evse not in self._failed:
                log.exception("OCPP: smart charging limit of evse %d failed; the last one stays", evse)
            self._failed.add(evse)
            return self._last.get(evse, (INF, INF))
        self._failed.discard(evse)
        self._last[evse] = limit
        self._cache[evse] = (time.monotonic(), in_use, limit)
        return limit

    def _evse_limit(self, evse: int) -> tuple[float, float]:
        now = self._service.clock()
        watts = amps = INF
        profiles = self.installed.all
        own = evse_limit_at(profiles, evse, now, self._tx(evse))
        if own is not None:
            watts, amps = (own.value, INF) if own.unit == "W" else (INF, own.value)
        station = station_limit_at(profiles, now)
        if station is not None:
            share = self._share(evse, station)
            watts, amps = (min(watts, share.value), amps) if share.unit == "W" else (watts, min(amps, share.value))
        return watts, amps

    def station_limit_w(self) -> float:
        """The station-wide limit now in W (inf: none): the power-sharing allocator's external_limit_w. A limit in
        A is taken at the highest output voltage now (an idle station: inf, nothing flows)."""
        station = station_limit_at(self.installed.all, self._service.clock()) if self._enabled() else None
        if station is None:
            return INF
        if station.unit == "W":
            return station.value
        volts = [self._voltage(c, idle=0.0) for c in self._in_use().values()]
        return station.value * max(volts) if volts and max(volts) > 0 else INF

    def power_schedule(self, evse: int) -> tuple[tuple[int, float], ...]:
        """The EVSE's composite in W for the next 24 h, (seconds from now, W); empty without profiles. Cached until
        a profile or the EVSEs in use change or CHECK_S passes (ISO-2's SAScheduleList; CurrentDemandRes reads
        evse_limit)."""
        if not self.installed.by_id or not self._enabled():
            return ()
        in_use = tuple(self._in_use())
        if evse not in self._schedules or self._schedules[evse][0] != in_use:
            periods = self._composite(evse, self._service.clock(), SCHEDULE_S, "W")
            rows: list[tuple[int, float]] = []
            for period in periods:  # whole seconds: a fall a little early, a rise a little late
                rising = bool(rows) and period.limit > rows[-1][1]
                rows.append((math.ceil(period.start_s) if rising else math.floor(period.start_s), period.limit))
            self._schedules[evse] = (in_use, tuple(rows))
        return self._schedules[evse][1]

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_S)
            try:
                self.check()
            except Exception:  # the store's disk, mostly: the limits in force stay, the next check tries again
                log.exception("OCPP: smart charging check failed")

    def check(self) -> None:
        running = self._running()
        if self.installed.end_transactions(running):
            log.info("OCPP: TxProfiles of ended transactions removed")
        self._tx_started = {tx: t for tx, t in self._tx_started.items() if tx in running.values()}
        for evse in self._service.connectors:
            self._tx(evse)  # notes a new transaction's start
        self._schedules.clear()

    # ---- inside ------------------------------------------------------------------------------------------
    def _composite(self, evse: int, t0: float, duration: float, unit: str):
        connectors = self._service.connectors
        if evse == 0:
            ceiling = sum(self._ceiling(c, unit) for c in connectors.values())
            voltage = max(self._voltage(c) for c in connectors.values()) if connectors else 0.0
            return composite(self.installed.all, 0, t0, duration, unit, tx=TxContext(), voltage_v=voltage,
                             ceiling=ceiling)
        connector = connectors[evse]
        return composite(self.installed.all, evse, t0, duration, unit, tx=self._tx(evse),
                         voltage_v=self._voltage(connector), ceiling=self._ceiling(connector, unit),
                         share=lambda station: self._share(evse, station))

    def _share(self, evse: int, station: Limit) -> Limit:
        ceilings = {cid: self._ceiling(c, station.unit) for cid, c in self._in_use().items()}
        return Limit(station.unit, share_of(evse, station.value, ceilings))

    def _in_use(self) -> dict[int, Any]:
        return {cid: c for cid, c in self._service.connectors.items() if c.state in PLUGGED_STATES}

    @staticmethod
    def _ceiling(connector: Any, unit: str) -> float:
        limits = getattr(connector, "limits", None)
        if limits is None:
            return INF
        return limits.own_power_w() if unit == "W" else limits.own_current_a()

    @staticmethod
    def _voltage(connector: Any, idle: float | None = None) -> float:
        """The output's voltage now, or (idle None) the cable's highest: a W limit shown in A never over-states."""
        present = connector.present_voltage() if hasattr(connector, "present_voltage") else 0.0
        if present > 50.0:
            return present
        return getattr(connector.cfg, "max_voltage_v", 0.0) if idle is None else idle

    def _running(self) -> dict[int, str]:
        return {evse: tx.transaction_id for evse, tx in self._service.transactions.items()}

    def _tx(self, evse: int) -> TxContext:
        tx = self._service.transactions.get(evse)
        if tx is None:
            return TxContext()
        started = self._tx_started.setdefault(tx.transaction_id, self._service.clock())
        return TxContext(tx.transaction_id, started)

    def _enabled(self) -> bool:
        return self._service.device_model.text(CTRLR, "Enabled") == "true"

    def _changed(self) -> None:
        self._schedules.clear()
        self._cache.clear()

    def close(self) -> None:
        self.installed.close()
