"""How a station-wide limit (ChargingStationMaxProfile) is shared over the EVSEs in use (pure).

The rule: water-filling. Each EVSE in use gets an equal share; one whose own ceiling (cable, modules, car)
is below its share keeps only its ceiling, and what it leaves is shared equally by the others, until nothing
is left over. The shares never add up to more than the limit, and no EVSE gets less than an equal share
unless it cannot use it. An EVSE not in use gets the share it would have as one more EVSE in use, so that a
car plugging in is offered a limit at once; the others' shares shrink when it joins (its current ramps up
from zero while theirs are cut at once, so the sum stays within the limit).
"""
from __future__ import annotations


def split(limit: float, ceilings: dict[int, float]) -> dict[int, float]:
    """Share `limit` over the EVSEs in `ceilings` (evse -> the most it can use)."""
    shares: dict[int, float] = {}
    left, open_ = max(0.0, limit), dict(ceilings)
    while open_:
        equal = left / len(open_)
        capped = {evse: cap for evse, cap in open_.items() if cap < equal}
        if not capped:
            shares.update({evse: equal for evse in open_})
            break
        for evse, cap in capped.items():
            shares[evse] = max(0.0, cap)
            left -= max(0.0, cap)
            del open_[evse]
    return shares


def share_of(evse: int, limit: float, ceilings: dict[int, float]) -> float:
    """`evse`'s share of `limit` among the EVSEs in use (`ceilings`); one not in use joins them for this."""
    if evse not in ceilings:
        ceilings = {**ceilings, evse: float("inf")}
    return split(limit, ceilings)[evse]
