"""tools/stall_injector.py: the command runs, is frozen now and then, and its exit status comes back."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(30)


def _injector(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.stall_injector", *args], capture_output=True, text=True,
                          timeout=20)


def test_the_command_is_frozen_for_the_stalls_and_its_exit_status_is_returned():
    # the child measures how much wall time passed while it slept in short steps: a stall shows as a long step
    child = ("import sys, time\n"
             "worst = 0.0\n"
             "for _ in range(60):\n"
             "    t = time.monotonic(); time.sleep(0.01); worst = max(worst, time.monotonic() - t)\n"
             "print(f'{worst:.3f}'); sys.exit(3)\n")
    done = _injector("--min-stall", "0.15", "--max-stall", "0.15", "--min-gap", "0.1", "--max-gap", "0.1",
                     "--seed", "1", "--", sys.executable, "-c", child)
    assert done.returncode == 3
    assert float(done.stdout.strip()) >= 0.14  # at least one of its sleeps took a stall longer
    assert "stalls, 0.15-0.15 s" in done.stderr


def test_bad_bounds_and_a_missing_command_are_one_clear_line_and_exit_2():
    done = _injector("--min-stall", "0.5", "--max-stall", "0.1", "--", "true")
    assert done.returncode == 2 and "min <= max" in done.stderr and "Traceback" not in done.stderr
    done = _injector("--", "/nonexistent/command")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot run /nonexistent/command" in done.stderr
