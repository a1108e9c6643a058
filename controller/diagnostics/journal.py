"""The controller's log as systemd keeps it: journalctl's lines for one unit, within the archive's window.

On a cabinet the controller logs to stderr and systemd's journal keeps it (docs/install.md), also across the
restarts and crashes the in-memory lines do not survive. Bounded: at most the lines that fit, a time-out.
"""
from __future__ import annotations

import subprocess

TIMEOUT_S = 15.0
BYTES_PER_LINE = 100  # a guess to ask journalctl for about as many lines as fit


def journal_tail(unit: str, oldest: float | None, latest: float | None, budget: int) -> tuple[bytes, str | None]:
    """(the newest lines that fit in `budget`, oldest first; why there are none, or None)."""
    command = ["journalctl", "--unit", unit, "--no-pager", "--quiet", "--output", "short-iso-precise",
               "--lines", str(max(1, min(200_000, budget // BYTES_PER_LINE)))]
    if oldest is not None:
        command += ["--since", f"@{int(oldest)}"]
    if latest is not None:
        command += ["--until", f"@{int(latest) + 1}"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        return b"", "journalctl not found (no systemd journal here)"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return b"", f"journalctl failed: {exc}"[:200]
    if done.returncode != 0:
        return b"", f"journalctl exit {done.returncode}: {done.stderr.decode(errors='replace').strip()[:150]}"
    out = done.stdout
    if len(out) > budget:  # keep the newest, from a line start
        out = out[len(out) - budget:]
        out = out[out.find(b"\n") + 1:]
    return out, None
