"""tools/vcan-run: real SocketCAN vcan for commands, on this kernel or inside user-mode-linux."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import can
import pytest

pytestmark = pytest.mark.timeout(180)

VCAN_RUN = Path(__file__).resolve().parents[2] / "tools" / "vcan-run"
RunInVcan = Callable[..., "subprocess.CompletedProcess[str]"]

FRAME_ID = 0x1A5
FRAME_DATA = bytes([0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04])

# Runs as its own process: prints "ready" once its socket is open, then the first frame it receives.
RECEIVER = textwrap.dedent("""
    import json, os, can
    with can.Bus(interface="socketcan", channel="vcan0") as bus:
        print("ready", flush=True)
        message = bus.recv(timeout=20)
        frame = None if message is None else {"id": message.arbitration_id, "data": message.data.hex()}
        print(json.dumps({"pid": os.getpid(), "frame": frame}), flush=True)
""")

# Starts RECEIVER (argv[1]) as a second process, sends one frame, reports what the receiver got.
SENDER = textwrap.dedent(f"""
    import json, os, subprocess, sys, can
    receiver = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
    if receiver.stdout.readline().strip() != "ready":
        sys.exit("receiver did not start")
    with can.Bus(interface="socketcan", channel="vcan0") as bus:
        bus.send(can.Message(arbitration_id={FRAME_ID}, data=bytes.fromhex("{FRAME_DATA.hex()}"),
                             is_extended_id=False))
    received = json.loads(receiver.stdout.readline())
    receiver.wait(timeout=20)
    print(json.dumps({{"sender_pid": os.getpid(), "received": received}}))
""")


def test_frame_sent_by_one_process_is_received_by_another(run_in_vcan: RunInVcan) -> None:
    result = run_in_vcan([sys.executable, "-c", SENDER, RECEIVER])

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["received"]["frame"] == {"id": FRAME_ID, "data": FRAME_DATA.hex()}
    assert report["received"]["pid"] != report["sender_pid"]


def test_bus_log_records_the_traffic_in_candump_format(
    run_in_vcan: RunInVcan, vcan_bus_log: Callable[[str], Path]
) -> None:
    log = vcan_bus_log("vcan0")

    result = run_in_vcan([sys.executable, "-c", SENDER, RECEIVER], bus_logs={"vcan0": log})

    assert result.returncode == 0, result.stderr
    line = log.read_text().splitlines()[0]
    assert f"vcan0 {FRAME_ID:03X}#{FRAME_DATA.hex().upper()}" in line
    frames = [(message.arbitration_id, bytes(message.data)) for message in can.LogReader(log)]
    assert frames == [(FRAME_ID, FRAME_DATA)]


def test_exit_status_of_a_failing_command_is_passed_through(run_in_vcan: RunInVcan) -> None:
    result = run_in_vcan([sys.executable, "-c", "import sys; sys.exit(3)"])

    assert result.returncode == 3


def test_stdout_and_stderr_reach_the_caller_separately(run_in_vcan: RunInVcan) -> None:
    script = "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"

    result = run_in_vcan([sys.executable, "-c", script])

    assert result.returncode == 0
    assert result.stdout == "to stdout\n"  # nothing of the guest kernel's boot messages
    assert result.stderr == "to stderr\n"


def test_requested_interfaces_exist_and_are_up(run_in_vcan: RunInVcan) -> None:
    script = ("import pathlib; print(' '.join(sorted(p.name for p in pathlib.Path('/sys/class/net').iterdir() "
              "if p.name.startswith('vcan') and int((p / 'flags').read_text(), 16) & 1)))")

    result = run_in_vcan([sys.executable, "-c", script], interfaces=3)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["vcan0", "vcan1", "vcan2"]


def test_command_running_past_the_timeout_is_killed(run_in_vcan: RunInVcan) -> None:
    result = run_in_vcan(["sleep", "60"], timeout=2)

    assert result.returncode == 124
    assert "timed out after 2 s" in result.stderr


def test_self_check_sends_and_receives_on_vcan0(vcan_backend: str) -> None:
    result = subprocess.run([sys.executable, str(VCAN_RUN), "--timeout=90", "--check"],
                            capture_output=True, text=True, timeout=150, check=False)

    assert result.returncode == 0, result.stderr
    assert f"(backend {vcan_backend})" in result.stdout


def test_missing_command_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, str(VCAN_RUN), "--timeout=5"], capture_output=True, text=True,
                            timeout=60, check=False)

    assert result.returncode == 2
    assert "no COMMAND given" in result.stderr


INNER_TESTS = textwrap.dedent("""
    def test_passes(vcan_bus_log):
        vcan_bus_log("vcan0").write_text("(0.0) vcan0 123#00 R\\n")

    def test_fails(vcan_bus_log):
        vcan_bus_log("vcan1").write_text("(0.0) vcan1 123#00 R\\n")
        assert False
""")


def test_bus_log_is_kept_only_for_a_failing_test(tmp_path: Path) -> None:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                             str(tmp_path), str(tmp_path / "test_inner.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=100, check=False)

    kept = sorted(path.name for path in (tmp_path / "test-artifacts" / "vcan").iterdir())
    assert kept == ["test_inner.test_fails.vcan1.log"]
    assert "kept at" in result.stdout and "1 failed, 1 passed" in result.stdout
