"""One controller process per store file: a second process is refused with the first one's pid, and a killed
owner leaves nothing locked."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.store import Store, StoreError

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
HOLDER = ("import sys; from controller.store import Store; s = Store(sys.argv[1]); s.open(); "
          "print('open', flush=True); sys.stdin.read()")


def _holder(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "open\n"
    return proc


def test_a_second_controller_process_is_refused_until_the_first_dies(tmp_path):
    path = tmp_path / "charger.db"
    holder = _holder(path)
    try:
        with pytest.raises(StoreError, match=rf"in use by another controller process \(pid {holder.pid}\)"):
            Store(path).open()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    store = Store(path)
    store.open()  # the lock died with its process
    store.close()


def test_a_closed_store_frees_the_file_for_another_process(tmp_path):
    path = tmp_path / "charger.db"
    store = Store(path)
    store.open()
    store.close()
    holder = _holder(path)
    holder.stdin.close()
    assert holder.wait(10) == 0


def test_the_controller_cli_names_the_busy_store(tmp_path):
    path = tmp_path / "charger.db"
    holder = _holder(path)
    try:
        run = subprocess.run([sys.executable, "-m", "controller", "--config", str(ROOT / "hil/setups/desk/cabinet.toml"),
                              "--set", f'store.path="{path}"'], capture_output=True, text=True, cwd=ROOT, timeout=30)
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert run.returncode != 0 and "in use by another controller process" in run.stderr


def test_closing_one_of_two_stores_in_a_process_keeps_the_file_locked(tmp_path):
    """POSIX locks drop when any descriptor of the file closes: the process shares one until its last Store."""
    path = tmp_path / "charger.db"
    first, second = Store(path), Store(path)
    first.open()
    second.open()
    first.close()
    probe = subprocess.run([sys.executable, "-c", "import sys; from controller.store import Store; Store(sys.argv[1]).open()",
                            str(path)], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert probe.returncode != 0 and "in use by another controller process" in probe.stderr
    second.close()
    holder = _holder(path)  # free again once the last one closed
    holder.stdin.close()
    assert holder.wait(10) == 0
