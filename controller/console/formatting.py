"""How answers look: aligned text tables and times for people, strict one-line JSON for scripts."""
from __future__ import annotations

import json
import math
import time
from typing import Any, Sequence

from controller.faults import mrec


def json_line(value: Any) -> str:
    """Compact JSON on one line; NaN and infinities (invalid JSON) become null."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str, allow_nan=False)
    except ValueError:  # rare: walk the value (slow) only when a non-finite number is in it
        return json.dumps(_finite(value), separators=(",", ":"), default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns, two spaces apart; None shows as '-'."""
    cells = [[str(h) for h in header]] + [[cell_text(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def wall_time(t: float | None) -> str:
    """A wall-clock timestamp in local time with its UTC offset, to the second (ISO 8601)."""
    if t is None:
        return "-"
    local = time.localtime(t)
    offset = local.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def event_text(kind: str, message: str, data: Any) -> str:
    """One readable line for an event in `log`: known kinds in words, others as key=value with nested values
    summarised (never a raw Python dict, never cut in the middle)."""
    data = data if isinstance(data, dict) else {}
    if kind == "phase":
        state = data.get("state") or message
        return f"now {state}" + (" (maintenance)" if data.get("maintenance") else "")
    if kind == "fault" and "code" in data:
        if not data.get("active", True):
            return f"{data['code']} cleared"
        detail = f": {data['detail']}" if data.get("detail") else ""
        chargex = mrec(data["code"]) if isinstance(data["code"], str) else None
        severity = f"{data.get('severity', '?')}" + (f", MREC {chargex[0]}" if chargex else "")
        return f"{data['code']} raised ({severity}){detail}"
    if kind == "session_ended" and "energy_kwh" in data:
        faults = ", ".join(data.get("fault_codes") or []) or "none"
        return (f"session ended: {cell_text(data['energy_kwh'])} kWh, peak {cell_text(data.get('peak_kw'))} kW, "
                f"stop {data.get('stop_reason') or '-'}, faults {faults}")
    if kind == "console" or not data:
        return message
    return " ".join(f"{key}={_value_text(value)}" for key, value in data.items() if key not in ("connector", "t"))


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return f"({len(value)} {'entry' if len(value) == 1 else 'entries'})" if len(value) > 3 or any(isinstance(v, (dict, list)) for v in value.values()) \
            else "(" + ", ".join(f"{k} {cell_text(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return ",".join(cell_text(v) for v in value) if len(value) <= 4 and not any(
            isinstance(v, (dict, list)) for v in value) else f"({len(value)} {'item' if len(value) == 1 else 'items'})"
    return cell_text(value)
