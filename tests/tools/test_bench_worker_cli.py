"""A bench worker's --can must be udp_multicast:GROUP: anything else is one line and exit 2, before the
worker looks at its namespace or starts anything."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("argv", [["tools.bench.turnaround"], ["tools.bench.footprint"],
                                  ["tools.bench.can_ingest", "run"], ["tools.bench.can_ingest", "controller"]])
@pytest.mark.parametrize("can", ["virtual:x", "udp_multicast", "udp_multicast:"])
def test_a_worker_refuses_a_can_other_than_multicast(argv, can):
    done = subprocess.run([sys.executable, "-m", *argv, "--can", can], capture_output=True, text=True, cwd=ROOT,
                          timeout=50)
    assert done.returncode == 2, done.stderr
    assert "--can must be udp_multicast:GROUP" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
