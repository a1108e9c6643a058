"""Checks of command-line input made before anything starts, shared by charger-controller and charger-hil.

Each raises ConfigError(option, reason): the caller prints one line and exits 2. They run before a bus is
opened or a scenario starts, so a typo costs a second, not a 20-minute run.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

from controller.formats.cabinet.loader import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(text: str, option: str = "--log-level") -> int:
    """The logging level named by `text` (any case)."""
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        raise ConfigError(option, f"{text!r} is not a log level (one of {', '.join(LOG_LEVELS)})")
    return getattr(logging, name)


def can_channel(text: str, option: str = "--can") -> tuple[str, str]:
    """(interface, channel) of INTERFACE:CHANNEL, checked as far as possible without opening the bus."""
    interface, _, channel = text.partition(":")
    if not interface or not channel:
        raise ConfigError(option, f"expected INTERFACE:CHANNEL, e.g. socketcan:can0 (got {text!r})")
    check_can_interface(interface, channel, option)
    return interface, channel


def check_can_interface(interface: str, channel: str, key: str) -> None:
    import can  # python-can's list of back ends

    known = sorted(can.interfaces.VALID_INTERFACES)
    if interface not in known:
        raise ConfigError(key, f"unknown python-can interface {interface!r} (known: {', '.join(known)})")
    if interface == "socketcan":
        reason = socketcan_problem(channel)
        if reason:
            raise ConfigError(key, f"socketcan:{channel}: {reason}")


def socketcan_problem(channel: str) -> str | None:
    """Why `channel` cannot be a SocketCAN bus here, or None when it looks usable."""
    family = getattr(socket, "AF_CAN", None)
    if family is None:
        return "this Python has no SocketCAN support (socket.AF_CAN missing)"
    try:
        socket.socket(family, socket.SOCK_RAW, socket.CAN_RAW).close()
    except OSError as exc:
        if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            return ("no SocketCAN in this kernel (AF_CAN not supported: load the can and can_raw modules, "
                    "or run inside tools/vcan-run)")
        return f"cannot open a CAN socket: {exc.strerror or exc}"
    try:
        socket.if_nametoindex(channel)
    except OSError:
        return (f"no such network interface (ip -br link lists them; a virtual one: "
                f"ip link add dev {channel} type vcan && ip link set {channel} up)")
    return None


def output_file(path: str, option: str) -> Path:
    """A file the run will write at its end: its folder must exist and be writable now."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ConfigError(option, f"{path} is a folder; give a file name")
    if not folder.is_dir():
        raise ConfigError(option, f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(option, f"no permission to write in {folder}")
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(option, f"no permission to overwrite {path}")
    return target
