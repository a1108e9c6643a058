"""vcan-run's native backend: this kernel has SocketCAN, COMMAND runs directly."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_control import (CANLOG, RunnerError, RunRequest, Unavailable, exit_status, kill_group, system_tool,
                             wait_or_kill)

IFF_UP = 0x1


def af_can_works() -> bool:
    if not hasattr(socket, "AF_CAN"):
        return False
    try:
        socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW).close()
    except OSError:
        return False
    return True


def prepare(interfaces: int) -> None:
    """Make vcan0..vcanN-1 exist and be up on this kernel, or raise Unavailable."""
    root = os.geteuid() == 0
    modprobe = system_tool("modprobe")
    if not af_can_works() and root and modprobe:
        subprocess.run([modprobe, "-q", "-a", "can-raw", "vcan"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    if not af_can_works():
        raise Unavailable("this kernel has no AF_CAN sockets")
    ip = system_tool("ip")
    for index in range(interfaces):
        name = f"vcan{index}"
        device = Path("/sys/class/net") / name
        if device.exists() and int((device / "flags").read_text(), 16) & IFF_UP:
            continue
        if not root or not ip:
            state = "down" if device.exists() else "missing"
            raise Unavailable(f"{name} is {state} and fixing that needs root and ip")
        steps = [] if device.exists() else [[ip, "link", "add", "dev", name, "type", "vcan"]]
        for step in [*steps, [ip, "link", "set", name, "up"]]:
            result = subprocess.run(step, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise Unavailable(f"{' '.join(step[1:])}: {result.stderr.strip() or result.returncode}")


def run(request: RunRequest) -> int:
    environment = request.environment | {"VCAN_RUN": "native"}
    loggers: list[subprocess.Popen[bytes]] = []
    try:
        for channel, file in request.bus_logs:
            loggers.append(start_logger(request, channel, file, environment))
        try:
            process = subprocess.Popen(request.command, stdin=subprocess.DEVNULL, env=environment,
                                       start_new_session=True)
        except OSError as error:
            print(f"vcan-run: cannot run {request.command[0]}: {error.strerror}", file=sys.stderr)
            return 127 if isinstance(error, FileNotFoundError) else 126
        try:
            wait_or_kill(process, request)
        finally:
            if process.returncode is None:
                kill_group(process)
        return exit_status(process.returncode)
    finally:
        stop_loggers(loggers)


def start_logger(request: RunRequest, channel: str, file: str,
                 environment: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start tools/vcan/canlog.py and wait until it listens, so it sees COMMAND's first frame."""
    ready_dir = tempfile.mkdtemp(prefix="vcan-run-log.")
    ready = Path(ready_dir) / "ready"
    logger = subprocess.Popen([request.python, str(CANLOG), "--ready", str(ready), channel, file],
                              stdin=subprocess.DEVNULL, stdout=sys.stderr, env=environment)
    try:
        for _ in range(200):
            if ready.exists():
                return logger
            if logger.poll() is not None:
                raise RunnerError(f"bus logger for {channel} exited before it was ready")
            time.sleep(0.05)
        logger.kill()
        logger.wait()
        raise RunnerError(f"bus logger for {channel} not ready after 10 s")
    finally:
        shutil.rmtree(ready_dir, ignore_errors=True)


def stop_loggers(loggers: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT lets each logger flush and close its file."""
    for logger in loggers:
        logger.send_signal(signal.SIGINT)
    for logger in loggers:
        try:
            logger.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.kill()
            logger.wait()
