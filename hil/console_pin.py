"""A technician PIN made for one run's service console (`charger-hil run --console-link PATH`).

It goes to PATH.pin, readable by its owner only, for `charger-console --pin-file PATH.pin PATH`, and is
removed when the run ends. A controller in a separate process gets it in a private copy of the cabinet
file, never on its command line, where every user of the machine could read it in the process list.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import tomllib
from pathlib import Path


class ConsolePin:
    def __init__(self, console_link: str):
        self.pin = f"{secrets.randbelow(10 ** 6):06d}"
        self.path = f"{console_link}.pin"
        self._private_dir: str | None = None
        _write_private(Path(self.path), self.pin + "\n")

    def override(self) -> str:
        """The config override, for a controller in this process (nothing on a command line)."""
        return f'console.technician_pin="{self.pin}"'

    def cabinet_copy(self, cabinet: Path) -> Path | None:
        """The cabinet file with the PIN added, in a private folder; None when the file has a [console] table
        already (TOML allows no second one), where the caller falls back to the override."""
        text = cabinet.read_text()
        if "console" in tomllib.loads(text):
            return None
        self._private_dir = tempfile.mkdtemp(prefix="charger-hil-")  # mode 700
        copy = Path(self._private_dir) / cabinet.name
        _write_private(copy, f'{text.rstrip()}\n\n[console]\ntechnician_pin = "{self.pin}"\n')
        return copy

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
