"""Count, median, 99th percentile and worst of a run's timings (ms), as the rig reports them.

Percentiles by nearest rank: the smallest sample that at least that fraction of the samples do not exceed,
the definition the controller's own answer-time summaries use, so the two views compare directly.
"""
from __future__ import annotations

import math
from typing import Sequence


def nearest_rank(ordered: Sequence[float], fraction: float) -> float:
    """`ordered`: ascending and not empty."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(ordered: Sequence[float], count: int | None = None, worst_ms: float | None = None) -> dict:
    """Of ascending samples; `count` and `worst_ms` when the samples are only the kept part of a longer run."""
    return {
        "count": len(ordered) if count is None else count,
        "median_ms": round(nearest_rank(ordered, 0.5), 3),
        "p99_ms": round(nearest_rank(ordered, 0.99), 3),
        "max_ms": round(ordered[-1] if worst_ms is None else worst_ms, 3),
    }
