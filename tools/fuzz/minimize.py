"""Shrinks a crashing input: drops chunks (halves, quarters, ... single bytes) while the target still raises
the same exception type. In-process and uninstrumented; libFuzzer's own -minimize_crash re-executes argv[0],
which for a Python worker is not an executable."""
from __future__ import annotations

from tools.fuzz.target import OneInput, Target, guarded

MAX_TRIES = 5000


def failure(one_input: OneInput, data: bytes) -> str | None:
    """The escaped exception's type name, or None when the input passes."""
    try:
        one_input(data)
    except Exception as exc:  # everything that escapes the target's guard is a failure here
        return type(exc).__name__
    return None


def minimize(target: Target, data: bytes, one_input: OneInput | None = None) -> bytes:
    one_input = one_input or guarded(target, target.build())
    expected = failure(one_input, data)
    if expected is None:
        return data
    tries, chunk = 0, max(1, len(data) // 2)
    while chunk >= 1 and tries < MAX_TRIES:
        start, shrunk = 0, False
        while start < len(data) and tries < MAX_TRIES:
            candidate = data[:start] + data[start + chunk:]
            tries += 1
            if failure(one_input, candidate) == expected:
                data, shrunk = candidate, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    return data
