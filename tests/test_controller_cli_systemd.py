"""sd_notify against a unix datagram socket the test owns, with a real charger-controller process."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from controller.systemd_notify import SystemdNotifier, WatchdogPinger

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[1]
DESK = ROOT / "hil/setups/desk/cabinet.toml"


@pytest.fixture
def notify_socket():
    folder = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")  # short: a unix socket path has at most 107 bytes
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    yield sock, path
    sock.close()
    os.unlink(path)
    os.rmdir(folder)


def _messages(sock: socket.socket, until, timeout: float) -> list[dict]:
    """Datagrams as dicts until `until(messages)` holds or `timeout` passes."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(got):
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        got.append(dict(line.split("=", 1) for line in data.decode().splitlines()))
    return got


def test_ready_watchdog_and_stopping_from_a_real_controller(notify_socket):
    sock, path = notify_socket
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}  # 0.2 s: a ping every 0.1 s
    proc = subprocess.Popen([sys.executable, "-m", "controller", "--config", str(DESK)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        got = _messages(sock, lambda m: sum("WATCHDOG" in x for x in m) >= 5 and any(
            "READY" not in x and x.get("STATUS", "").startswith("running: 1 ") for x in m), 30)
        ready = [m for m in got if m.get("READY") == "1"]
        assert ready and ready[0]["MAINPID"] == str(proc.pid) and ready[0]["STATUS"].startswith("running: 1 ")
        assert got.index(ready[0]) < next(i for i, m in enumerate(got) if "WATCHDOG" in m)  # READY first
        assert sum("WATCHDOG" in m for m in got) >= 5
        # STATUS follows the connector: without a rig its I/O board is lost, so it leaves "available"
        states = [m["STATUS"] for m in got if "READY" not in m and m.get("STATUS", "").startswith("running: 1 ")]
        assert states and all(re.fullmatch(r"running: 1 \w+", s) for s in states), got
        proc.send_signal(signal.SIGTERM)
        stopping = _messages(sock, lambda m: any("STOPPING" in x for x in m), 10)
        assert any(m.get("STOPPING") == "1" for m in stopping)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err


def test_a_controller_that_cannot_start_says_why_in_status(notify_socket, tmp_path):
    sock, path = notify_socket
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(DESK.read_text() + f'\n[store]\npath = "{cabinet}"\n')
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(cabinet)], cwd=ROOT, timeout=30,
                          env={**os.environ, "NOTIFY_SOCKET": path}, capture_output=True, text=True)
    assert done.returncode == 2
    got = _messages(sock, lambda m: any("STATUS" in x and x["STATUS"].startswith("failed") for x in m), 5)
    failed = [m["STATUS"] for m in got if m.get("STATUS", "").startswith("failed")]
    assert failed and "not a charger store" in failed[0]
    assert not any("READY" in m for m in got)


def test_no_watchdog_pings_for_another_pid_or_without_the_variable():
    assert SystemdNotifier({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000000",
                            "WATCHDOG_PID": str(os.getpid() + 1)}).watchdog_interval_s is None
    assert SystemdNotifier({"NOTIFY_SOCKET": "/run/x"}).watchdog_interval_s is None
    assert SystemdNotifier({}).send(READY=1) is False  # outside systemd: nothing, no error


def test_no_pings_while_unhealthy_and_they_resume_after(notify_socket):
    sock, path = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"})
    health = iter([None, None, "task control ended", "task control ended", None])
    pinger = WatchdogPinger(notifier, lambda: next(health))
    for _ in range(5):
        pinger.turn()
    got = _messages(sock, lambda m: len(m) >= 5, 2)
    assert got == [{"WATCHDOG": "1"}, {"WATCHDOG": "1"}, {"STATUS": "unhealthy: task control ended"},
                   {"STATUS": "running: healthy again"}, {"WATCHDOG": "1"}]
    assert pinger.pings == 3
    notifier.close()


def test_a_held_heartbeat_is_unhealthy():
    from controller.__main__ import _health

    class App:
        def stopped_task(self):
            return None

        class supervisor:  # noqa: N801 - stands in for the app's TaskSupervisor
            held = True
            failures = ["task control made no progress for 0.30 s (bound 0.25 s)"]

    assert _health(App()) == ("the task supervisor holds the I/O board heartbeat: "
                              "task control made no progress for 0.30 s (bound 0.25 s)")


def test_abstract_socket_address():
    assert SystemdNotifier({"NOTIFY_SOCKET": "@charger/notify"}).address == b"\0charger/notify"
