"""`make test` runs in two parts: the tests marked `alone` one at a time, the rest in two worker processes
(pytest-xdist). Alone are the tests that load the machine themselves or judge timing under a load they make:
benchmarks, soaks, the emulated-CPU vcan tier, Josev (a JVM), the wheel install, and the rig sessions that judge
a bound while four cars charge at full power; a single test of an otherwise independent file carries the marker
itself. Everything else is independent: its own ports, folders and namespaces."""
from __future__ import annotations

import pytest

ALONE = (
    "tests/tools/test_bench",  # every bench smoke: figures under load
    "tests/soak/",
    "tests/interop/",
    "tests/vcan/",
    "tests/packaging/",
    "tests/rig/test_power_sharing_scenarios.py",  # four cars drawing up to 600 kW: the busiest sessions
    "tests/rig/test_smart_charging_scenarios.py",  # a limit followed within a bound while four cars charge
    # four connectors at once: beside another rig session they made a strict car miss its 0.25 s deadline
    "tests/rig/test_v2g_sessions.py",
    "tests/rig/test_replay.py",
    "tests/rig/test_separate_processes.py",
    "tests/ocpp/test_queue_kill.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(ALONE):
            item.add_marker(pytest.mark.alone)
