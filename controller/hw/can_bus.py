"""Create python-can buses from configuration (any python-can interface)."""
from __future__ import annotations

import can

from controller.formats.cabinet.config import CanChannelConfig
from controller.hw.can_port import CanPort


def open_port(name: str, cfg: CanChannelConfig) -> CanPort:
    kwargs = dict(cfg.options)
    if cfg.bitrate and cfg.interface not in ("virtual", "udp_multicast"):
        kwargs["bitrate"] = cfg.bitrate
    if cfg.interface == "udp_multicast":
        kwargs.setdefault("fd", False)
    bus = can.Bus(interface=cfg.interface, channel=cfg.channel, **kwargs)
    return CanPort(bus, name, filter_own_echo=cfg.interface == "udp_multicast")
