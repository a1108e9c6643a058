"""`make test` runs in two parts: the tests marked `alone` one at a time, the rest in two worker processes
(pytest-xdist). Alone are the tests that load the machine themselves or judge timing under a load they make:
benchmarks, soaks, the emulated-CPU vcan tier, Josev (a JVM), the wheel install, and the rig sessions with four
cars at once. Everything else is independent: its own ports, folders and namespaces."""
from __future__ import annotations

import pytest

ALONE = (
    "tests/tools/test_bench",  # every bench smoke: figures under load
    "tests/soak/",
    "tests/interop/",
    "tests/vcan/",
    "tests/packaging/",
    "tests/rig/test_power_sharing_scenarios.py",
    "tests/rig/test_v2g_sessions.py",  # the nevi cabinet, four cars
    "tests/rig/test_separate_processes.py",
    "tests/rig/test_replay.py",
    "tests/rig/test_smart_charging_scenarios.py",
    "tests/ocpp/test_queue_kill.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(ALONE):
            item.add_marker(pytest.mark.alone)
