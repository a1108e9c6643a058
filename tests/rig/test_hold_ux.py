"""A technician rehearses a fault call in the rig: `charger-hil run --hold` with the plant's controls on
standard input and the controller's console on a pty, reached with the PIN the run wrote for it."""
from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tools.charger_console import ConsoleClient, login

pytestmark = [pytest.mark.rig, pytest.mark.timeout(150)]
ROOT = Path(__file__).resolve().parents[2]


class RigProcess:
    """charger-hil in a child process; its stdout read line by line on a thread."""

    def __init__(self, argv: list[str], prefix: list[str] = ()):
        self.proc = subprocess.Popen([*prefix, sys.executable, "-m", "hil", *argv], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} from the rig; saw {self.seen[-15:]}; "
                             f"stderr {self.proc.stderr.read() if self.proc.poll() is not None else ''}")

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def _state(client: ConsoleClient) -> str:
    answer = json.loads(client.command("json status").splitlines()[-1])
    return answer["data"]["connectors"][0]["state"]


def _until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_technician_rehearses_an_estop_call_end_to_end(tmp_path):
    link, report = tmp_path / "console", tmp_path / "report.json"
    rig = RigProcess(["run", "--scenario", "estop", "--hold", "--console-link", str(link), "--quiet",
                      "--report", str(report)])
    try:
        banner = rig.expect("holding; plant controls on standard input")
        assert "estop: fault" in banner
        console_line = rig.expect("service console: charger-console --pin-file")
        pin_file = Path(f"{link}.pin")
        assert console_line.endswith(f"--pin-file {pin_file} {link}")
        assert stat.S_IMODE(os.stat(pin_file).st_mode) == 0o600  # the PIN is for this user only
        client = ConsoleClient.open(str(link), 115200, 10.0)
        try:
            client.sync()
            assert login(client, pin_file.read_text().strip()) is None
            assert _state(client) == "emergency"
            assert client.command("clear 1").startswith("connector 1: nothing cleared; still present: ESTOP_PRESSED")
            rig.send("estop release 1")
            rig.expect("connector 1: e-stop released")
            assert "cleared ESTOP_PRESSED" in client.command("clear 1")
            _until(lambda: _state(client) == "available", "the connector back in service")
            rig.send("soc 1 60")
            rig.expect("connector 1: the next car plugs in at 60.0 % SoC")
            rig.send("plug 1")
            rig.expect("connector 1: car plugged in at 60.0 % SoC")
            assert rig.expect("connector 1: the car's session ended: target_soc", timeout=60.0).endswith(
                "; the car has unplugged")
            sessions = json.loads(client.command("json sessions").splitlines()[-1])["data"]["sessions"]
            assert sessions[0]["stop_reason"] == "ev_stop" and sessions[0]["energy_kwh"] > 0
            rig.send("estop press 1")
            rig.expect("connector 1: e-stop pressed")
            _until(lambda: _state(client) == "emergency", "the e-stop seen by the controller")
            rig.send("status")
            assert "CP A" in rig.expect("connector 1: emergency") and "e-stop PRESSED" in rig.seen[-1]
            rig.send("plug 1")  # a car arrives at the faulted port, and leaves again
            rig.expect("connector 1: car plugged in at 30.0 % SoC")
            rig.send("unplug 1")
            rig.expect("connector 1: car unplugged")
            rig.send("unplug 1")
            rig.expect("error: connector 1: no car plugged in")
            rig.send("bogus")
            rig.expect("error: unknown command 'bogus'; type help")
        finally:
            client.close()
        rig.send("quit")
        assert rig.proc.wait(timeout=30) == 0  # the scenario's own verdict: the e-stop ended it as it should
    finally:
        if rig.proc.poll() is None:
            rig.proc.kill()
            rig.proc.wait()
    assert not pin_file.exists()  # the PIN was for this run only
    saved = json.loads(report.read_text())
    assert saved["result"] == "fault" and saved["held_s"] > 0
    assert saved["connectors"][0]["stop_reason"] == "emergency:ESTOP_PRESSED"


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(p) for p in (task / "children").read_text().split()]
    return out


def test_a_separate_controller_gets_the_pin_in_a_private_file_not_on_its_command_line(tmp_path):
    from tests.rig.netns import private_netns

    link = tmp_path / "console"
    with private_netns() as netns:
        rig = RigProcess(["run", "--separate-process", "--can", "udp_multicast:239.74.163.4", "--hold",
                          "--console-link", str(link), "--quiet"], prefix=netns)
        try:
            rig.expect("service console: charger-console --pin-file", timeout=90)
            pin = Path(f"{link}.pin").read_text().strip()
            rig_pids = [rig.proc.pid, *_children(rig.proc.pid)]  # `ip netns exec` may stay as the parent
            controllers = [pid for parent in rig_pids for pid in _children(parent)
                           if b"-m\0controller" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert controllers, "no controller process found"
            cmdline = Path(f"/proc/{controllers[0]}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            assert pin not in cmdline and "technician_pin" not in cmdline, cmdline
            client = ConsoleClient.open(str(link), 115200, 10.0)
            try:
                client.sync()
                assert login(client, pin) is None
                assert client.command("disable 1") == "connector 1: disabled, unavailable"
            finally:
                client.close()
            rig.send("quit")
            assert rig.proc.wait(timeout=30) == 0, (rig.seen[-5:], list(rig.lines.queue)[-20:],
                                                    rig.proc.stderr.read()[-3000:])
        finally:
            if rig.proc.poll() is None:
                rig.proc.kill()
                rig.proc.wait()
    assert not Path(f"{link}.pin").exists()
