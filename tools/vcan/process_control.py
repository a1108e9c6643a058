"""What both vcan-run backends share: the run request, the errors, and process-group control."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CANLOG = Path(__file__).resolve().parent / "canlog.py"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Unavailable(Exception):
    """This backend cannot give vcan here; the message is the reason."""


class RunnerError(Exception):
    """vcan-run itself failed; the message says why."""


class TimedOut(RunnerError):
    """COMMAND ran past --timeout and was killed."""


@dataclass(frozen=True)
class RunRequest:
    command: list[str]
    environment: dict[str, str]  # COMMAND's; each backend adds VCAN_RUN
    interfaces: int  # vcan0..vcanN-1
    bus_logs: list[tuple[str, str]]  # (channel, absolute log file) recorded while COMMAND runs
    python: str  # the virtual environment's python, which runs the bus loggers
    timeout: float
    deadline: float  # time.monotonic() at which COMMAND is killed


def system_tool(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}")


def exit_status(returncode: int) -> int:
    """A shell-style status: 128+N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group led by process and reap what we can of it.

    The guest's helper processes are orphaned when the kernel process dies; uml_guest makes us their
    subreaper, so they come back to us as children of the same group and are reaped here, not left as zombies.
    """
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    if process.returncode is None:
        process.wait()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-process.pid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def wait_or_kill(process: subprocess.Popen[bytes], request: RunRequest) -> None:
    try:
        process.wait(timeout=max(0.0, request.deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise TimedOut(f"timed out after {request.timeout:g} s; killed") from None
