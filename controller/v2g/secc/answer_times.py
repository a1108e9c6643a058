"""How fast the SECC answers, per request type: from a request's last byte read on the V2GTP socket to the
answer's bytes handed to it (the DIN performance time is 25 ms for CurrentDemand).

Reported with every closed V2G session (`v2g_closed` event): a summary per type and the raw samples in
microseconds, so that a benchmark can merge sessions exactly. Samples are bounded per type (the newest
are kept); count and worst cover the whole session.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

KEPT_SAMPLES = 1000


def percentile(sorted_values: list, fraction: float):
    """Nearest rank: the smallest sample with at least `fraction` of the (sorted, non-empty) samples at or below."""
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


def summarize_ms(sorted_ms: list[float], count: int | None = None, worst_ms: float | None = None) -> dict:
    """count, median, p99 and worst (ms) of sorted samples; `count` and `worst_ms` when the samples are a subset."""
    return {"count": len(sorted_ms) if count is None else count,
            "median_ms": round(percentile(sorted_ms, 0.5), 3), "p99_ms": round(percentile(sorted_ms, 0.99), 3),
            "max_ms": round(sorted_ms[-1] if worst_ms is None else worst_ms, 3)}


@dataclass
class _PerType:
    count: int = 0
    worst_us: int = 0
    samples_us: collections.deque[int] = field(default_factory=lambda: collections.deque(maxlen=KEPT_SAMPLES))


class AnswerTimes:
    def __init__(self) -> None:
        self._types: dict[str, _PerType] = {}

    def add(self, request: str, answer_s: float) -> None:
        entry = self._types.setdefault(request, _PerType())
        micros = int(round(answer_s * 1e6))
        entry.count += 1
        entry.worst_us = max(entry.worst_us, micros)
        entry.samples_us.append(micros)

    def summary(self) -> dict[str, dict]:
        """Per request type: count, median and p99 of the kept samples, worst of all (ms)."""
        return {request: summarize_ms(sorted(us / 1000.0 for us in entry.samples_us), entry.count,
                                      entry.worst_us / 1000.0)
                for request, entry in self._types.items()}

    def samples_us(self) -> dict[str, list[int]]:
        return {request: list(entry.samples_us) for request, entry in self._types.items()}
