"""The built wheel, installed in a fresh venv, charges a car: what a cabinet gets is what was tested.

The source tree is copied first (pip builds a local folder in place and would leave build/ behind), the wheel
is built with build isolation, installed with the pinned constraints.txt from PyPI into a venv without the
checkout, and the INSTALLED charger-hil starts the INSTALLED charger-controller as a separate process from a
folder outside the checkout, so nothing can be imported from the source tree.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.rig.netns import private_netns

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
CAN = "udp_multicast:239.74.163.4"
_NOT_SOURCE = shutil.ignore_patterns(".venv*", ".git", "build", "dist", "__pycache__", "*.egg-info", "test-artifacts",
                                     ".pytest_cache", ".hypothesis", "bench", "*.sqlite*", "demo-report*")


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the venv it is installed in)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(work / "dist"), str(source)],
         work, 150)
    wheel = next((work / "dist").glob("*.whl"))
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], work, 60)
    _run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"),
          str(wheel)], work, 240)
    return wheel, venv


def test_the_wheel_holds_every_data_file_the_packages_read(installed):
    wheel, _ = installed
    tracked = subprocess.run(["git", "ls-files", "controller", "hil", "dbc"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    data = {name for name in tracked if not name.endswith((".py", ".md"))}  # notes beside the code are not read
    assert {"dbc/io_board.dbc", "dbc/infypower_reg.dbc", "hil/setups/desk/cabinet.toml"} <= data
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    assert sorted(data - shipped) == []


def test_the_installed_controller_charges_a_car_in_the_rig(installed, tmp_path):
    _, venv = installed
    where = _run([str(venv / "bin/python"), "-c", "import controller, dbc; print(controller.__file__, dbc.__file__)"],
                 tmp_path, 30).stdout.split()
    assert all(str(venv) in path for path in where), where  # the installed package, not the checkout
    report = tmp_path / "report.json"
    with private_netns() as netns:
        run = subprocess.run(
            [*netns, str(venv / "bin/charger-hil"), "run", "--separate-process", "--setup", "desk", "--can", CAN,
             "--scenario", "dc-session", "--quiet", "--report", str(report)],
            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(report.read_text())
    assert result["result"] == "ok" and result["controller_events"] is True
    assert result["connectors"][0]["car"]["reason"] == "target_soc"
    assert result["final"]["contactors_closed"] is False and result["final"]["modules_on"] is False
