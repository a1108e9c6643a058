"""The vcan test tier: tests that need real SocketCAN run their commands through tools/vcan-run.

Fixtures for tests in this folder:

- ``run_in_vcan(argv, timeout=90, *, interfaces=2, bus_logs=None) -> subprocess.CompletedProcess[str]``
  runs argv where vcan0..vcanN-1 exist (natively or inside a guest), output captured as text. All processes
  of one call share one bus; separate calls never share one in a guest. Each call boots its own guest (about
  10 s under emulation): put what needs the bus into few calls.
- ``vcan_backend -> str``: the backend vcan-run uses here. Where none is possible the test is skipped with
  one loud line in the summary, except in CI (CI=true), where the vcan tier must run: there it fails. A
  backend that is installed but crashes always fails, with vcan-run's line naming it and the cause.
- ``vcan_bus_log(channel="vcan0") -> Path``: a candump-format log file for that channel under
  test-artifacts/vcan/, kept only when the test fails. Pass it on: ``bus_logs={"vcan0": vcan_bus_log()}``.
- ``vcan_tier_line(text)``: a line for the end of the test summary (what ran over the bus, and how long).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path

import pytest

VCAN_RUN = Path(__file__).resolve().parents[2] / "tools" / "vcan-run"
SKIP_STATUS = 77
SKIP_REASON = pytest.StashKey[str]()
TIER_LINES = pytest.StashKey[list[str]]()
CALL_REPORT = pytest.StashKey[pytest.TestReport]()
BUS_LOGS = pytest.StashKey[list[Path]]()

RunInVcan = Callable[..., "subprocess.CompletedProcess[str]"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def vcan_run_command(argv: Sequence[str], timeout: float, interfaces: int = 2,
                     bus_logs: Mapping[str, Path] | None = None) -> list[str]:
    logs = [f"--log-bus={channel}={path}" for channel, path in (bus_logs or {}).items()]
    return [sys.executable, str(VCAN_RUN), f"--timeout={timeout:g}", f"--interfaces={interfaces}", *logs,
            "--", *argv]


def run_in_vcan(argv: Sequence[str], timeout: float = 90, *, interfaces: int = 2,
                bus_logs: Mapping[str, Path] | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv through tools/vcan-run; its own --timeout fires first, ours only backs it up."""
    return subprocess.run(vcan_run_command(argv, timeout, interfaces, bus_logs), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout + 60, check=False)


@pytest.fixture(scope="session")
def vcan_backend(pytestconfig: pytest.Config) -> str:
    """The backend's name ('native', 'qemu-kvm', 'uml', 'qemu-tcg'); see the module's docstring."""
    # The first probe may boot-test KVM (20 s at most where it hangs) and UML.
    probe = subprocess.run([sys.executable, str(VCAN_RUN), "--probe"], capture_output=True, text=True,
                           timeout=120, check=False)
    if probe.returncode == SKIP_STATUS:
        reason = probe.stderr.strip().removeprefix("vcan-run: ")
        if in_ci():
            pytest.fail(f"the vcan tier must run in CI, but {reason} (run .ci/install-vcan as root)",
                        pytrace=False)
        pytestconfig.stash[SKIP_REASON] = reason
        pytest.skip(f"vcan tier skipped: {reason}")
    if probe.returncode != 0:
        pytest.fail(f"vcan-run --probe failed: {probe.stderr.strip()}", pytrace=False)
    pytestconfig.stash.setdefault(TIER_LINES, []).append(f"vcan tier backend {probe.stdout.strip()}")
    return probe.stdout.split(":", 1)[0]


@pytest.fixture(name="run_in_vcan")
def run_in_vcan_fixture(vcan_backend: str) -> RunInVcan:
    return run_in_vcan


@pytest.fixture
def vcan_tier_line(pytestconfig: pytest.Config) -> Callable[[str], None]:
    return pytestconfig.stash.setdefault(TIER_LINES, []).append


@pytest.fixture
def vcan_bus_log(request: pytest.FixtureRequest) -> Generator[Callable[[str], Path], None, None]:
    """Hands out log paths; after the test, deletes them unless the test failed."""
    directory = request.config.rootpath / "test-artifacts" / "vcan"
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.path.stem}.{request.node.name}")
    paths = request.node.stash.setdefault(BUS_LOGS, [])

    def log_path(channel: str = "vcan0") -> Path:
        path = directory / (f"{test_name}.log" if channel == "vcan0" else f"{test_name}.{channel}.log")
        directory.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # evidence from an earlier run is not this run's
        paths.append(path)
        return path

    yield log_path
    report = request.node.stash.get(CALL_REPORT, None)
    if report is None or not report.failed:
        for path in paths:
            path.unlink(missing_ok=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call":
        return
    item.stash[CALL_REPORT] = report
    kept = [path for path in item.stash.get(BUS_LOGS, []) if path.exists()]
    if report.failed and kept:
        report.sections.append(("vcan bus log", "\n".join(f"kept at {path}" for path in kept)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for line in config.stash.get(TIER_LINES, []):
        terminalreporter.write_line(line)
    reason = config.stash.get(SKIP_REASON, None)
    if reason is not None:
        terminalreporter.write_line(f"vcan tier skipped: {reason}", yellow=True, bold=True)
