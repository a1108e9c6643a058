"""Percentiles, goal verdicts and the printed table shared by the benchmark figures."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from controller.v2g.secc.answer_times import percentile as nearest_rank


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least q % of the samples at or below it."""
    if not values:
        raise ValueError("percentile of no samples")
    return nearest_rank(sorted(values), q / 100.0)


def summarize(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """n, p50, p99, max and mean of the samples (nearest-rank; with n < 100 the p99 is the maximum)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(percentile(values, 50), digits),
            "p99": round(percentile(values, 99), digits), "max": round(max(values), digits),
            "mean": round(sum(values) / len(values), digits)}


def goal(name: str, value: float | None, limit: float, unit: str, *, higher_is_better: bool = False,
         note: str = "") -> dict[str, Any]:
    """One goal row: the figure against its limit, the ratio value/limit and by how much it is missed."""
    row: dict[str, Any] = {"name": name, "value": value, "limit": limit, "unit": unit,
                           "direction": ">=" if higher_is_better else "<="}
    if note:
        row["note"] = note
    if value is None:
        row.update(ratio=None, met=None, verdict="not measured")
        return row
    ratio = value / limit if limit else math.inf
    met = value >= limit if higher_is_better else value <= limit
    row.update(ratio=round(ratio, 3), met=met)
    if met:
        row["verdict"] = "met"
    else:
        gap = abs(value - limit)
        row["verdict"] = f"MISSED by {_number(gap)} {unit} ({abs(ratio - 1) * 100:.0f} %)"
    return row


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def format_goals(rows: Sequence[dict[str, Any]]) -> str:
    """The goal table: figure, value, goal, ratio and verdict, one line each."""
    header = f"{'figure':<58} {'value':>12} {'goal':>14} {'ratio':>6}  verdict"
    lines = [header, "-" * len(header)]
    for row in rows:
        value = "-" if row["value"] is None else f"{_number(row['value'])} {row['unit']}"
        limit = f"{row['direction']} {_number(row['limit'])} {row['unit']}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        verdict = row["verdict"] + (f" ({row['note']})" if row.get("note") else "")
        lines.append(f"{row['name']:<58} {value:>12} {limit:>14} {ratio:>6}  {verdict}")
    return "\n".join(lines)
