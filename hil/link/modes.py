"""The rig's two V2G link modes: what stands between the controller's SECC and the rig's car.

- `loopback` (no root): SLAC frames through an in-process MemoryLink pair, SDP and TCP on ::1. The
  controller must run in the rig's process (the frames never leave it).
- `veth` (root): two network namespaces joined by a veth pair (`hil.link.netns`); real SLAC frames over
  AF_PACKET on both ends, real IPv6 multicast SDP, TCP between link-local addresses. The controller runs
  in the SECC namespace: in the rig's process (sockets opened through `secc.run`) or as a child process
  under `ip netns exec` (`secc.command_prefix()`), opening its sockets on interface `plc0` itself.

Either way the rig side is the same: a `SimulatedPowerline` (the charger's modem, the wire, the car's
modem) between the SECC's frames and the car, whose end is `ev`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, TypeVar

from controller.v2g import v2gtp
from controller.v2g.ethernet import FrameLink, MemoryLink, RawEthernetLink
from hil.ev.sdp_client import multicast_target
from hil.link.netns import PLC_INTERFACE, VethPair, run_in_netns
from hil.link.powerline import SimulatedPowerline

T = TypeVar("T")

LOOPBACK_HOST = "::1"
SECC_MAC = bytes.fromhex("020000ec0001")   # loopback: the SECC's end of the in-process cable
RIG_MAC = bytes.fromhex("020000ec0002")    # loopback: the powerline's end
EV_MAC = bytes.fromhex("020000ec0003")     # loopback: the car


@dataclass
class LinkEnd:
    """One side of the link: where its sockets live and how to open them there."""
    interface: str | None      # the PLC interface inside `netns`; None in the loopback mode
    netns: str | None

    async def run(self, fn: Callable[[], T]) -> T:
        """fn() where this side's sockets must be created (inside its namespace, or right here)."""
        if self.netns is None:
            return fn()
        return await run_in_netns(self.netns, fn)

    def command_prefix(self) -> list[str]:
        """Prefix that runs a command on this side (e.g. the controller as a separate process)."""
        return [] if self.netns is None else ["ip", "netns", "exec", self.netns]


@dataclass
class SeccEnd(LinkEnd):
    frames: MemoryLink | None = None  # loopback only: the SECC's end of the in-process cable
    sdp_port: int = v2gtp.SDP_PORT    # loopback: 0 = any free port (read it back from the SDP server)


@dataclass
class EvEnd(LinkEnd):
    frames: FrameLink | None = None   # the car's SLAC link (its end of the simulated powerline)

    async def sdp_target(self, sdp_port: int = v2gtp.SDP_PORT) -> tuple:
        """Where the car sends SDP requests: ff02::1 on its interface, or ::1 at the SECC's port."""
        if self.interface is None:
            return LOOPBACK_HOST, sdp_port
        interface = self.interface
        return await self.run(lambda: multicast_target(interface, sdp_port))


class LoopbackLink:
    name = "loopback"

    def __init__(self, *, attenuation_db: float = 22.0, seed: int | None = None):
        secc_frames, rig_frames = MemoryLink.pair(SECC_MAC, RIG_MAC)
        self.powerline = SimulatedPowerline(rig_frames, EV_MAC, attenuation_db=attenuation_db, seed=seed)
        self.secc = SeccEnd(None, None, frames=secc_frames, sdp_port=0)
        self.ev = EvEnd(None, None, frames=self.powerline.ev_link)

    async def open(self) -> LoopbackLink:
        self.powerline.start()
        return self

    async def close(self) -> None:
        await self.powerline.close()
        self.powerline.evse_side.close()


class VethLink:
    name = "veth"

    def __init__(self, *, attenuation_db: float = 22.0, seed: int | None = None):
        self.pair = VethPair()
        self.secc = SeccEnd(PLC_INTERFACE, self.pair.secc_ns)
        self.ev = EvEnd(PLC_INTERFACE, self.pair.ev_ns)
        self.powerline: SimulatedPowerline | None = None
        self._attenuation_db = attenuation_db
        self._seed = seed

    async def open(self) -> VethLink:
        await asyncio.to_thread(self.pair.create)
        try:
            rig_frames = await run_in_netns(self.pair.ev_ns, lambda: RawEthernetLink.open(PLC_INTERFACE))
        except BaseException:
            self.pair.remove()
            raise
        # The car's host is the rig's end of the veth: frames for the car are addressed to that interface.
        self.powerline = SimulatedPowerline(rig_frames, rig_frames.mac, attenuation_db=self._attenuation_db,
                                            seed=self._seed)
        self.ev.frames = self.powerline.ev_link
        self.powerline.start()
        return self

    async def close(self) -> None:
        if self.powerline is not None:
            await self.powerline.close()
            self.powerline.evse_side.close()
        await asyncio.to_thread(self.pair.remove)


LINK_MODES = {"loopback": LoopbackLink, "veth": VethLink}


async def open_link(mode: str, **options) -> LoopbackLink | VethLink:
    """Open the link mode named `mode` ("loopback" or "veth"); ValueError naming the known ones otherwise.
    The veth mode raises NetnsUnavailable with the reason when it cannot run here (not root, no `ip`)."""
    cls = LINK_MODES.get(mode)
    if cls is None:
        raise ValueError(f"unknown link mode {mode!r} (known: {', '.join(LINK_MODES)})")
    return await cls(**options).open()
