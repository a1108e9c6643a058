"""The import contracts (pyproject [tool.importlinter], run by `make lint-imports`): the real tree keeps them,
and a planted violation in a copy of the tree fails them, naming the offending import."""
from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("controller", "hil", "tools")

pytestmark = pytest.mark.timeout(120)


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # this tree's packages, not an installed copy
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=100)


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_the_tree_keeps_every_contract():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_formats_contract_names_every_other_part_of_the_controller():
    """A new part of controller/ must be listed, or controller.formats could import it unnoticed."""
    parts = {f"controller.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "controller")])} - {"controller.formats"}
    forbidden = set(_contracts()["formats-stand-alone"]["forbidden_modules"])
    assert parts <= forbidden, sorted(parts - forbidden)
    assert parts == set(_contracts()["rig-meets-controller-at-wires"]["forbidden_modules"])


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tree)
    return tree


@pytest.mark.parametrize("module, line, offending", [
    ("hil/planted_wire.py", "from controller.hw.can_port import CanPort", "hil.planted_wire -> controller.hw.can_port"),
    ("controller/formats/planted.py", "from controller.v2g import sdp", "controller.formats.planted -> controller.v2g"),
    ("controller/hw/planted.py", "import tools.capture.summary", "controller.hw.planted -> tools.capture.summary"),
    ("hil/planted_tool.py", "from tools.capture import summary", "hil.planted_tool -> tools.capture"),
    ("controller/hw/power/planted.py", "from controller.connector import Connector",
     "controller.hw.power.planted -> controller.connector"),
])
def test_a_planted_violation_fails_naming_the_import(tree_copy, module, line, offending):
    planted = tree_copy / module
    planted.write_text(f'"""Planted by tests/test_import_contracts.py."""\n{line}\n')
    try:
        done = _lint(tree_copy)
    finally:
        planted.unlink()
    assert done.returncode != 0
    assert offending in done.stdout, done.stdout
