"""A charging profile as data, and the limit it sets at an instant.

Times are POSIX seconds (float). A profile keeps the CSMS's JSON (camelCase) as it came, so that
GetChargingProfiles reports exactly what was set. Only the first chargingSchedule is used: the others are for
ISO 15118-20 schedule choice, which this station does not offer (validation rejects more than one).

minChargingRate is ignored: a DC charger gives the car what it asks up to the limit, and a car asking less
than a minimum rate is not forced to take more.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone

STATION_MAX = "ChargingStationMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
EXTERNAL = "ChargingStationExternalConstraints"
RECURRENCE_S = {"Daily": 86_400.0, "Weekly": 7 * 86_400.0}


def parse_time(text: str) -> float:
    """RFC 3339 date-time to POSIX seconds; a time without an offset is UTC. ValueError when unreadable."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def format_time(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Period:
    start_s: float  # seconds from the start of the schedule (whole in a profile; exact in a composite)
    limit: float


@dataclass(frozen=True)
class ChargingProfile:
    id: int
    evse: int  # 0: the station (ChargingStationMaxProfile) or every EVSE (TxDefaultProfile)
    stack_level: int
    purpose: str
    kind: str  # Absolute, Recurring, Relative
    unit: str  # W or A
    periods: tuple[Period, ...]
    recurrency: str | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    start_schedule: float | None = None
    duration_s: float | None = None
    transaction_id: str | None = None
    schedule_count: int = 1
    json: dict | None = None  # the CSMS's chargingProfile as it came
    starts: tuple[float, ...] = field(init=False, repr=False, compare=False)  # the periods' starts, for bisect

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", tuple(p.start_s for p in self.periods))

    @classmethod
    def from_json(cls, evse: int, data: dict) -> ChargingProfile:
        """ValueError with a short reason when a field cannot be read (a time, a missing period)."""
        schedules = data["chargingSchedule"]
        schedule = schedules[0]
        periods = tuple(Period(int(p["startPeriod"]), float(p["limit"])) for p in schedule["chargingSchedulePeriod"])

        def when(key: str, where: dict) -> float | None:
            return parse_time(where[key]) if where.get(key) is not None else None
        return cls(id=int(data["id"]), evse=evse, stack_level=int(data["stackLevel"]),
                   purpose=data["chargingProfilePurpose"], kind=data["chargingProfileKind"],
                   unit=schedule["chargingRateUnit"], periods=periods, recurrency=data.get("recurrencyKind"),
                   valid_from=when("validFrom", data), valid_to=when("validTo", data),
                   start_schedule=when("startSchedule", schedule),
                   duration_s=float(schedule["duration"]) if schedule.get("duration") is not None else None,
                   transaction_id=data.get("transactionId"), schedule_count=len(schedules), json=data)

    def valid_at(self, t: float) -> bool:
        return (self.valid_from is None or t >= self.valid_from) and (self.valid_to is None or t < self.valid_to)

    def schedule_start(self, t: float, tx_start: float | None) -> float | None:
        """When the schedule in force at `t` began; None when it has not begun (a Relative one without a
        transaction starts at `t` itself: the limit it would give a car plugging in now)."""
        if self.kind == "Relative":
            return tx_start if tx_start is not None else t
        if self.start_schedule is None:
            return None
        if self.kind == "Recurring":
            every = RECURRENCE_S.get(self.recurrency or "", 0.0)
            if every <= 0 or t < self.start_schedule:
                return self.start_schedule if t >= self.start_schedule else None
            return self.start_schedule + ((t - self.start_schedule) // every) * every
        return self.start_schedule

    def limit_at(self, t: float, tx_start: float | None = None) -> float | None:
        """The limit this profile sets at `t`, or None where it sets none (not valid, not begun, ended)."""
        if not self.valid_at(t):
            return None
        begun = self.schedule_start(t, tx_start)
        if begun is None or t < begun:
            return None
        elapsed = t - begun
        if self.duration_s is not None and elapsed >= self.duration_s:
            return None
        index = bisect_right(self.starts, elapsed) - 1  # starts ascend (validated)
        return self.periods[index].limit if index >= 0 else None

    def boundaries(self, t0: float, t1: float, tx_start: float | None = None) -> list[float]:
        """Every instant in (t0, t1) where this profile's limit may change: period starts, the schedule's end,
        validity edges, recurrences. The composite is constant between consecutive boundaries of its profiles."""
        edges = [e for e in (self.valid_from, self.valid_to) if e is not None]
        starts: list[float] = []
        if self.kind == "Relative":
            starts = [tx_start if tx_start is not None else t0]
        elif self.start_schedule is not None:
            every = RECURRENCE_S.get(self.recurrency or "", 0.0) if self.kind == "Recurring" else 0.0
            first = self.start_schedule
            if every > 0 and t0 > first:
                first += ((t0 - first) // every) * every
            starts = [first]
            while every > 0 and starts[-1] + every < t1:
                starts.append(starts[-1] + every)
        for begun in starts:
            edges += [begun + p.start_s for p in self.periods]
            if self.duration_s is not None:
                edges.append(begun + self.duration_s)
        return sorted({e for e in edges if t0 < e < t1})
