"""NEVI port uptime (23 CFR 680, PROTOCOL-FACTS.md section 10), one port, over the last 12 months.

    percent = ((525600 - (T_outage - T_excluded)) / 525600) x 100

T_outage is the time the port could not deliver power and T_excluded the part of
it NEVI lets the operator exclude (utility outages, vandalism, scheduled
maintenance...), both in minutes within the window. Our choices:

- The window is the 525600 minutes before `now`. A port cannot have been down
  before the cabinet existed, so the window starts no earlier than the store's
  commissioning time (its first open): for a younger cabinet the same formula is
  applied to the shorter window (window_min replaces 525600), so a two-week-old
  cabinet with one hour down reads like one with the same ratio of downtime in a
  year. When the cabinet is 12 months old the window is exactly 525600 minutes.
- Outages are clipped to the window; an open outage counts up to `now`.
- Overlapping outages of one port count once: T_outage is the length of the union
  of all outage intervals and T_excluded the length of the union of the excluded
  ones, so time that is both excluded and not is treated as excluded.
"""
from __future__ import annotations

YEAR_MIN = 525600.0
YEAR_S = YEAR_MIN * 60.0

Interval = tuple[float, float]


def union_length(intervals: list[Interval]) -> float:
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def port_uptime(outages: list[tuple[float, float | None, bool]], now: float,
                commissioned_t: float | None) -> dict[str, float]:
    """`outages` are (start_t, end_t or None if open, excluded) rows of one port."""
    window_start = now - YEAR_S
    if commissioned_t is not None:
        window_start = min(now, max(window_start, commissioned_t))
    every, excluded = [], []
    for start, end, is_excluded in outages:
        clipped = (max(start, window_start), min(now if end is None else end, now))
        if clipped[1] <= clipped[0]:
            continue
        every.append(clipped)
        if is_excluded:
            excluded.append(clipped)
    window_min = (now - window_start) / 60.0
    outage_min = union_length(every) / 60.0
    excluded_min = union_length(excluded) / 60.0
    counted_min = outage_min - excluded_min
    percent = 100.0 if window_min <= 0 else (window_min - counted_min) / window_min * 100.0
    return {"percent": percent, "outage_min": outage_min, "excluded_min": excluded_min,
            "window_min": window_min, "window_start_t": window_start}
