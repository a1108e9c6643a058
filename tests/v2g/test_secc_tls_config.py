"""charger-controller with `[v2g.tls]`: an unusable SECC certificate or key stops the start in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hil.pki.rig_pki import rig_pki, write_secc_files

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
DESK = (ROOT / "hil/setups/desk/cabinet.toml").read_text()


def _start_with_tls(tmp_path, chain: Path, key: Path) -> subprocess.CompletedProcess:
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(DESK + "\n[v2g]\nenabled = true\ntest_door_direct_tcp = true\nsdp_port = 0\n"
                       f'\n[v2g.tls]\ncert_chain = "{chain}"\nkey = "{key}"\n')
    return subprocess.run([sys.executable, "-m", "controller", "--config", str(cabinet)],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)


def _one_line_exit_2(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charger-controller: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_a_key_others_can_read_stops_the_start(tmp_path):
    pki = rig_pki()
    files = write_secc_files(tmp_path / "secc", pki.secc, pki.secc_chain())
    os.chmod(files.key, 0o644)
    line = _one_line_exit_2(_start_with_tls(tmp_path, files.chain, files.key), "'v2g.tls.key'",
                            "readable by its owner only (mode 0600, is 0644)")
    assert "PRIVATE KEY" not in line


def test_a_key_of_another_certificate_stops_the_start_without_showing_it(tmp_path):
    pki = rig_pki()
    files = write_secc_files(tmp_path / "secc", pki.oem_provisioning, pki.secc_chain())
    done = _start_with_tls(tmp_path, files.chain, files.key)
    line = _one_line_exit_2(done, "'v2g.tls.key'", "is not the private key of the leaf")
    assert "PRIVATE KEY" not in done.stderr + done.stdout and "PRIVATE KEY" not in line
