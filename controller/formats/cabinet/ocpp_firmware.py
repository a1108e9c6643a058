"""The cabinet file's [ocpp.firmware]: how a firmware the CSMS sends (UpdateFirmware) is installed.

docs/firmware-update.md describes the update and the installer's exit-code contract.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from controller.formats.cabinet.loader import ConfigError


@dataclass(frozen=True)
class FirmwareConfig:
    """Signed firmware updates over OCPP (block L); off while `install_command` is empty."""
    install_command: tuple[str, ...] = ()  # program and arguments, the bundle's path added last; empty: updates Rejected
    version_file: str = ""  # its first line is the running version (BootNotification); empty: the built-in one
    download_dir: str = ""  # where bundles are downloaded; empty: firmware/ beside the store (else a temporary folder)
    install_timeout_s: float = 900.0  # the installer running longer than this counts as failed (it is killed)
    max_download_mb: int = 2048  # a download growing past this many MiB fails (a full disk stops the store too)

    def check(self) -> None:
        if not self.install_command:
            return
        program = self.install_command[0]
        if not program or not all(self.install_command):
            raise ConfigError("install_command", "no empty program or argument")
        found = shutil.which(program) if os.sep not in program else (program if os.access(program, os.X_OK) else None)
        if found is None:
            raise ConfigError("install_command", f"{program!r} is not an executable program")
