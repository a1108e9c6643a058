"""Verdicts of boot tests, remembered until the machine reboots or the tested files change.

A boot test is slow where it matters most: a KVM guest that hangs costs the test's whole timeout. The key
holds the kernel's boot id and the path, size and mtime of every file tested, so a reboot, a new kernel or
a new QEMU tests again. VCAN_RUN_PROBE_CACHE=off tests every time. A cache that cannot be written is no error.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vcan-run" / "boot-tests.json"


def cache_key(test: str, files: list[str]) -> str:
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot_id = "unknown"
    stamps = []
    for name in files:
        try:
            info = os.stat(name)
            stamps.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
        except OSError:
            stamps.append(f"{name}:missing")
    return "|".join([test, boot_id, *stamps])


def enabled() -> bool:
    return os.environ.get("VCAN_RUN_PROBE_CACHE", "on").lower() not in ("off", "0", "no")


def read_all() -> dict[str, dict[str, object]]:
    try:
        entries = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def recall(test: str, files: list[str]) -> tuple[bool, str] | None:
    """(passed, reason) from an earlier test of these files in this boot, or None."""
    if not enabled():
        return None
    entry = read_all().get(cache_key(test, files))
    if not isinstance(entry, dict) or not isinstance(entry.get("passed"), bool):
        return None
    return entry["passed"], str(entry.get("reason", ""))


def remember(test: str, files: list[str], passed: bool, reason: str) -> None:
    if not enabled():
        return
    boot_key = cache_key(test, files)
    boot_id = boot_key.split("|")[1]
    # Entries of earlier boots are dropped: they can never match again.
    entries = {key: value for key, value in read_all().items() if key.split("|")[1:2] == [boot_id]}
    entries[boot_key] = {"passed": passed, "reason": reason}
    target = cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, suffix=".tmp") as temporary:
            json.dump(entries, temporary, indent=1)
        os.replace(temporary.name, target)
    except OSError:
        pass
