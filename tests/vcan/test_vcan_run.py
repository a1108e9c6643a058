"""tools/vcan-run: real SocketCAN vcan for commands, on this kernel or inside a guest (qemu-kvm, uml, qemu-tcg).

Every guest boot costs seconds (about 10 s under emulation), so one run checks most properties at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import can
import pytest

pytestmark = pytest.mark.timeout(300)

VCAN_RUN = Path(__file__).resolve().parents[2] / "tools" / "vcan-run"
RunInVcan = Callable[..., "subprocess.CompletedProcess[str]"]

FRAME_ID = 0x1A5
FRAME_DATA = bytes([0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04])

# Runs as its own process: prints "ready" once its socket is open, then the first frame it receives.
RECEIVER = textwrap.dedent("""
    import json, os, can
    with can.Bus(interface="socketcan", channel="vcan0") as bus:
        print("ready", flush=True)
        message = bus.recv(timeout=60)
        frame = None if message is None else {"id": message.arbitration_id, "data": message.data.hex()}
        print(json.dumps({"pid": os.getpid(), "frame": frame}), flush=True)
""")

# Starts RECEIVER (argv[1]) as a second process, sends one frame, then reports what the receiver got and what
# the command sees of its guest: up interfaces, VCAN_RUN, PATH, stdin. One line of JSON on stdout, one line on
# stderr, exit status 3.
SENDER = textwrap.dedent(f"""
    import json, os, pathlib, subprocess, sys, can
    receiver = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
    if receiver.stdout.readline().strip() != "ready":
        sys.exit("receiver did not start")
    with can.Bus(interface="socketcan", channel="vcan0") as bus:
        bus.send(can.Message(arbitration_id={FRAME_ID}, data=bytes.fromhex("{FRAME_DATA.hex()}"),
                             is_extended_id=False))
    received = json.loads(receiver.stdout.readline())
    receiver.wait(timeout=60)
    up = sorted(p.name for p in pathlib.Path("/sys/class/net").iterdir()
                if p.name.startswith("vcan") and int((p / "flags").read_text(), 16) & 1)
    null = os.stat(os.devnull)
    stdin = os.fstat(0)
    print(json.dumps({{"sender_pid": os.getpid(), "received": received, "up": up,
                      "vcan_run": os.environ.get("VCAN_RUN"), "path0": os.environ["PATH"].split(":")[0],
                      "stdin_is_null": (stdin.st_rdev, stdin.st_mode) == (null.st_rdev, null.st_mode)}}))
    print("to stderr", file=sys.stderr)
    sys.exit(3)
""")


def test_one_guest_passes_a_frame_logs_it_and_keeps_streams_status_and_interfaces(
    run_in_vcan: RunInVcan, vcan_backend: str, vcan_bus_log: Callable[[str], Path]
) -> None:
    log = vcan_bus_log("vcan0")

    result = run_in_vcan([sys.executable, "-c", SENDER, RECEIVER], timeout=240, interfaces=3,
                         bus_logs={"vcan0": log})

    assert result.returncode == 3, result.stderr  # COMMAND's own status
    assert result.stderr == "to stderr\n"  # nothing of the guest kernel's boot messages, nothing of stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    report = json.loads(lines[0])
    assert report["received"]["frame"] == {"id": FRAME_ID, "data": FRAME_DATA.hex()}
    assert report["received"]["pid"] != report["sender_pid"]
    assert report["up"] == ["vcan0", "vcan1", "vcan2"]
    assert report["vcan_run"] == vcan_backend
    assert report["path0"] == str(Path(sys.executable).parent)
    assert report["stdin_is_null"]
    assert f"vcan0 {FRAME_ID:03X}#{FRAME_DATA.hex().upper()}" in log.read_text().splitlines()[0]
    frames = [(message.arbitration_id, bytes(message.data)) for message in can.LogReader(log)]
    assert frames == [(FRAME_ID, FRAME_DATA)]


def test_command_running_past_the_timeout_is_killed(run_in_vcan: RunInVcan) -> None:
    result = run_in_vcan(["sleep", "600"], timeout=2)

    assert result.returncode == 124
    assert "timed out after 2 s" in result.stderr


def test_self_check_sends_and_receives_on_vcan0(vcan_backend: str) -> None:
    result = subprocess.run([sys.executable, str(VCAN_RUN), "--timeout=240", "--check"],
                            capture_output=True, text=True, timeout=300, check=False)

    assert result.returncode == 0, result.stderr
    assert f"(backend {vcan_backend})" in result.stdout


def test_probe_names_the_backend_and_why_on_one_line(vcan_backend: str) -> None:
    result = subprocess.run([sys.executable, str(VCAN_RUN), "--probe"], capture_output=True, text=True,
                            timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith(f"{vcan_backend}: ") and len(result.stdout) > len(vcan_backend) + 5


def fake_uml(tmp_path: Path, console: str, status: int) -> dict[str, str]:
    """A 'UML kernel' that prints console and exits: the environment that makes vcan-run use it."""
    kernel = tmp_path / "linux.uml"
    kernel.write_text(f"#!/bin/sh\ncat <<'EOF'\n{console}\nEOF\nexit {status}\n")
    kernel.chmod(0o755)
    (tmp_path / "modules" / "6.1.0" / "kernel" / "drivers" / "net" / "can").mkdir(parents=True)
    (tmp_path / "modules" / "6.1.0" / "kernel" / "drivers" / "net" / "can" / "vcan.ko").touch()
    return {**os.environ, "VCAN_RUN_UML": str(kernel), "VCAN_RUN_UML_MODULES": str(tmp_path / "modules"),
            "VCAN_RUN_PROBE_CACHE": "off", "VCAN_RUN_BACKEND": "uml"}


@pytest.mark.parametrize("option", ["--probe", "--check"])
def test_a_crashing_backend_is_one_line_naming_it_and_the_cause(tmp_path: Path, option: str) -> None:
    console = ("Core dump limits :\n\tsoft - 0\nKernel panic - not syncing: fatal_sigsegv in run_init_process\n"
               "CPU: 0 PID: 1 Comm: swapper Not tainted 6.1.0-27-amd64\nStack:\n 6097ff58 00000000")
    environment = fake_uml(tmp_path, console, 139)

    result = subprocess.run([sys.executable, str(VCAN_RUN), option], capture_output=True, text=True,
                            env=environment, timeout=60, check=False)

    assert result.returncode == 125  # an error, never 77 (a skip)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "vcan-run: uml: the guest stopped (exit 139) before COMMAND finished: "
        "Kernel panic - not syncing: fatal_sigsegv in run_init_process"]


def test_no_backend_at_all_is_status_77_with_every_reason(tmp_path: Path) -> None:
    environment = {**os.environ, "VCAN_RUN_UML": str(tmp_path / "none"), "VCAN_RUN_BACKEND": "uml"}

    result = subprocess.run([sys.executable, str(VCAN_RUN), "--probe"], capture_output=True, text=True,
                            env=environment, timeout=60, check=False)

    assert result.returncode == 77
    assert result.stderr == "vcan-run: no SocketCAN vcan here: uml: user-mode-linux is not installed\n"


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

    def test_needs_vcan(vcan_backend):
        pass
""")


def run_inner_tests(tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    conftest = Path(__file__).with_name("conftest.py").read_text()
    located = 'Path(__file__).resolve().parents[2] / "tools" / "vcan-run"'
    assert located in conftest
    (tmp_path / "conftest.py").write_text(conftest.replace(located, f"Path({str(VCAN_RUN)!r})"))
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "--rootdir",
                           str(tmp_path), str(tmp_path / "test_inner.py")], cwd=tmp_path, capture_output=True,
                          text=True, env=environment, timeout=100, check=False)


def no_backend_environment(tmp_path: Path, ci: str | None) -> dict[str, str]:
    environment = {**os.environ, "VCAN_RUN_UML": str(tmp_path / "none"), "VCAN_RUN_BACKEND": "uml"}
    environment.pop("CI", None)
    return environment if ci is None else {**environment, "CI": ci}


def test_bus_log_is_kept_only_for_a_failing_test_and_no_backend_skips_off_ci(tmp_path: Path) -> None:
    result = run_inner_tests(tmp_path, no_backend_environment(tmp_path, None))

    kept = sorted(path.name for path in (tmp_path / "test-artifacts" / "vcan").iterdir())
    assert kept == ["test_inner.test_fails.vcan1.log"]
    assert "kept at" in result.stdout and "1 failed, 1 passed, 1 skipped" in result.stdout
    assert "vcan tier skipped: no SocketCAN vcan here: uml: user-mode-linux is not installed" in result.stdout


def test_no_backend_fails_the_tier_in_ci(tmp_path: Path) -> None:
    result = run_inner_tests(tmp_path, no_backend_environment(tmp_path, "true"))

    assert "1 failed, 1 passed, 1 error" in result.stdout, result.stdout  # the error: the vcan test's setup
    assert "the vcan tier must run in CI, but no SocketCAN vcan here: uml: user-mode-linux is not installed" \
        in result.stdout
