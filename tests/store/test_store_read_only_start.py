"""Issue 19: a store directory that is read-only at start (a read-only mount: root ignores file modes) no
longer keeps the charger from starting: it starts without its log, raises STORE_WRITE_FAILED (cabinet-wide,
warning) and the console's status says the store is not open. A file that is not a charger store is still
refused at start (tests/test_controller_cli.py)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.store.health import CODE, StoreHealthWatch
from tests.store.test_store_disk_refusal import _can_mount_privately

ROOT = Path(__file__).resolve().parents[2]
DESK = (ROOT / "hil/setups/desk/cabinet.toml").read_text()


@pytest.mark.timeout(60)
def test_the_controller_starts_without_its_store_on_a_read_only_mount(tmp_path):
    reason = _can_mount_privately()
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "ro"
    folder.mkdir()
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(DESK + f'\n[store]\npath = "{folder / "charger.db"}"\n')
    script = (f"mount -t tmpfs -o ro,size=1m tmpfs {folder} && exec {sys.executable} -m controller "
              f"--config {cabinet} --events-json")
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    events = []
    try:
        for line in proc.stdout:
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "started":
                    break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert events and events[-1]["event"] == "started"
    faults = [e for e in events if e["event"] == "fault" and e["code"] == CODE]
    assert len(faults) == 1 and faults[0]["active"] and faults[0]["connector"] is None
    assert faults[0]["severity"] == "warning" and "no permission to write" in faults[0]["detail"]
    assert not (folder / "charger.db").exists()


def test_the_console_line_for_a_store_not_opened():
    sent = []
    watch = StoreHealthWatch.unopened("no permission to write in /var/lib/charger", lambda event: sent.append((event.KIND, event.json_fields())))
    assert watch.active is not None and watch.active.code == CODE
    assert watch.text().startswith("store: NOT OPEN (no permission to write in /var/lib/charger)")
    watch.check()  # no store to watch: the fault stays raised
    assert watch.active is not None and [d["active"] for _, d in sent] == [True]
