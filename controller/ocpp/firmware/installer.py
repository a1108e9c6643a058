"""Running the configured installer ([ocpp.firmware] install_command) on a verified bundle.

The exit-code contract (docs/firmware-update.md says why each):
  0  installed; the new version runs after a restart (the controller exits with its restart status)
  1  not installed; the running version stays (InstallationFailed)
  2  the installer's own check of the bundle failed, nothing changed (InstallVerificationFailed)
  anything else, a time-out, or a program that cannot start: InstallationFailed.
A line `version=X` on its standard output names the version the bundle brings; after the restart the station
checks that X runs.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

INSTALLED_RESTART = 0
INSTALL_FAILED = 1
VERIFICATION_FAILED = 2
OUTPUT_LIMIT = 64 * 1024  # what is kept of the installer's output for the log


@dataclass(frozen=True)
class InstallOutcome:
    status: str  # InstallRebooting, InstallationFailed or InstallVerificationFailed
    version: str | None  # the version the installer named (version=...)
    detail: str


def _named_version(output: str) -> str | None:
    found = re.findall(r"^version=(\S+)\s*$", output, re.MULTILINE)
    return found[-1] if found else None


async def run_installer(command: tuple[str, ...], bundle: Path, timeout_s: float) -> InstallOutcome:
    try:
        process = await asyncio.create_subprocess_exec(*command, str(bundle), stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return InstallOutcome("InstallationFailed", None, f"the installer did not start: {exc}")
    talk = asyncio.ensure_future(process.communicate())
    try:  # not asyncio.wait_for: on 3.11 it can swallow a cancellation
        done, _ = await asyncio.wait({talk}, timeout=timeout_s)
    except asyncio.CancelledError:
        process.kill()  # the controller is stopping: no half-watched installer is left behind
        talk.cancel()
        raise
    if not done:
        process.kill()
        await talk
        return InstallOutcome("InstallationFailed", None, f"the installer ran longer than {timeout_s:.0f} s")
    output, _ = talk.result()
    text = output[-OUTPUT_LIMIT:].decode("utf-8", "replace")
    log.info("OCPP: firmware installer exited %d: %s", process.returncode, text.strip()[-500:])
    code = process.returncode
    if code == INSTALLED_RESTART:
        return InstallOutcome("InstallRebooting", _named_version(text), "installed")
    if code == VERIFICATION_FAILED:
        return InstallOutcome("InstallVerificationFailed", None, "the installer refused the bundle")
    return InstallOutcome("InstallationFailed", None, f"the installer exited {code}")
