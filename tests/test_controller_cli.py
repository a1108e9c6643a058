"""charger-controller refuses a bad config at start with the key and the reason, and no traceback."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[1]
DESK = (ROOT / "hil/setups/desk/cabinet.toml").read_text()


def _start(tmp_path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "cabinet.toml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "controller", "--config", str(path)],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)


@pytest.mark.parametrize("old,new,message", [
    ('vendor = "infypower"', 'vendor = "acme"', "config error at 'power.vendor': unknown vendor 'acme'"),
    ('max_current_a = 200', 'max_current_a = -5', "config error at 'connectors[0].max_current_a': must be positive"),
    ('bitrate = 125000', 'bitrate = "fast"', "config error at 'can.power.bitrate': expected an integer"),
    ('[power]', '[powr]', "config error at 'powr': unknown key"),
])
def test_bad_config_exits_2_with_key_and_reason(tmp_path, old, new, message):
    assert old in DESK
    done = _start(tmp_path, DESK.replace(old, new, 1))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_config_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(tmp_path / "nope.toml")],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 2 and "cannot read" in done.stderr


# ---- errors a person can act on: one line, exit 2, no traceback -------------------------------------------

def _controller(args: list[str], cwd=ROOT, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "controller", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def _one_line_exit_2(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charger-controller: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("option,fragments", [
    (["--log-level", "foo"], ("'--log-level'", "'foo' is not a log level", "DEBUG, INFO")),
    (["--can", "nosuch:x"], ("'--can'", "unknown python-can interface 'nosuch'", "socketcan")),
    (["--can", "socketcan"], ("'--can'", "expected INTERFACE:CHANNEL",)),
])
def test_bad_options_exit_2_with_one_line(option, fragments):
    _one_line_exit_2(_controller(["--config", str(ROOT / "hil/setups/desk/cabinet.toml"), *option]), *fragments)


def test_a_socketcan_channel_that_cannot_be_opened_names_channel_and_reason():
    done = _controller(["--config", str(ROOT / "hil/setups/desk/cabinet.toml"), "--can", "socketcan:can7"])
    # no SocketCAN in the kernel, or no interface called can7: either way the line says which
    _one_line_exit_2(done, "socketcan:can7: ")
    assert "no SocketCAN in this kernel" in done.stderr or "no such network interface" in done.stderr


def test_a_config_channel_on_an_unknown_interface_names_its_key(tmp_path):
    done = _start(tmp_path, DESK.replace('interface = "virtual"', 'interface = "nosuch"', 1))
    _one_line_exit_2(done, "'can.io'", "unknown python-can interface 'nosuch'")


def test_a_missing_dbc_is_one_line(tmp_path):
    # A `dbc` package without its files ahead of the installed one on the path: what a broken install looks like.
    (tmp_path / "dbc").mkdir()
    (tmp_path / "dbc/__init__.py").write_text("")
    done = _controller(["--config", str(ROOT / "hil/setups/desk/cabinet.toml")], cwd=tmp_path)
    _one_line_exit_2(done, "DBC file infypower_reg.dbc not found", "reinstall")


def test_a_store_path_on_the_cabinet_file_is_refused_and_the_file_left_alone(tmp_path):
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(DESK + f'\n[store]\npath = "{cabinet}"\n')
    before = cabinet.read_bytes()
    done = _controller(["--config", str(cabinet)])
    _one_line_exit_2(done, str(cabinet), "not a charger store", "refusing to touch it")
    assert cabinet.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cabinet.toml"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_powers_down_closes_the_store_and_exits_0(tmp_path, sig):
    store = tmp_path / "charger.db"
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(DESK + f'\n[store]\npath = "{store}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "controller", "--config", str(cabinet), "--events-json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        for line in proc.stdout:
            if '"event": "started"' in line:
                break
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT value FROM runtime WHERE key = 'clean_stop'").fetchone() == (1.0,)


def test_a_start_that_fails_halfway_ends_the_process_with_one_line():
    # The SECC's interface is missing: buses and tasks already run; before, the process hung after the traceback.
    done = _controller(["--config", str(ROOT / "hil/setups/desk/cabinet.toml"), "--set", "v2g.enabled=true",
                        "--set", 'v2g.interfaces=["nosuch0"]'], timeout=30)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if " WARNING " not in line]
    assert errors == [errors[0]] and errors[0].startswith("charger-controller: cannot start: ")
    assert "nosuch0" in errors[0]


def test_socketcan_reasons_for_a_kernel_with_can_but_no_such_channel(monkeypatch):
    from controller.formats import command_line_checks as startup_checks

    class FakeSocket:
        def __init__(self, *args):
            pass

        def close(self):
            pass

    def no_interface(name):
        raise OSError(19, "No such device")

    monkeypatch.setattr(startup_checks.socket, "socket", FakeSocket)
    monkeypatch.setattr(startup_checks.socket, "if_nametoindex", no_interface)
    assert startup_checks.socketcan_problem("can7").startswith("no such network interface")
    monkeypatch.setattr(startup_checks.socket, "if_nametoindex", lambda name: 3)
    assert startup_checks.socketcan_problem("vcan0") is None


@pytest.mark.parametrize("path,reason", [
    ("/nonexistent-folder/report.json", "the folder /nonexistent-folder does not exist"),
    ("/", "/ is a folder"),
])
def test_output_files_are_checked_before_a_run(path, reason):
    from controller.formats.cabinet.loader import ConfigError
    from controller.formats.command_line_checks import output_file

    with pytest.raises(ConfigError) as err:
        output_file(path, "--report")
    assert err.value.key == "--report" and reason in err.value.reason
