"""The rig's two V2G link modes: what stands between the controller's SECC and the rig's car.

- `loopback` (no root): SLAC frames through an in-memory cable (hil.wires.ethernet), SDP and TCP on ::1. The
  controller must run in the rig's process (the frames never leave it).
- `veth` (root): two network namespaces joined by veth pairs (`hil.link.netns`); real SLAC frames over
  AF_PACKET on both ends, real IPv6 multicast SDP, TCP between link-local addresses. The controller runs
  in the SECC namespace: in the rig's process (sockets opened through `secc.run`), as a child process
  under `ip netns exec` (`secc.command_prefix()`), or, with `secc_here`, as a child process in the rig's
  own namespace; either way a child opens its sockets on the SECC interfaces itself.

Either way the rig side is the same: a `SimulatedPowerline` (the charger's modem, the wire, the car's
modem) between the SECC's frames and the car. One link carries `count` connectors: `seccs[i]`, `evs[i]`,
`powerlines[i]` (`secc`, `ev`, `powerline`: the first).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, TypeVar

from controller.formats.v2g import v2gtp
from hil.ev.sdp_client import multicast_target
from hil.link.netns import PLC_INTERFACE, VethPair, run_in_netns
from hil.link.powerline import SimulatedPowerline
from hil.wires.ethernet import EthernetEnd, MemoryEnd, RawSocketEnd, memory_cable

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
    frames: MemoryEnd | None = None  # loopback only: the SECC's end of the in-process cable
    sdp_port: int = v2gtp.SDP_PORT    # loopback: 0 = any free port (read it back from the SDP server)


@dataclass
class EvEnd(LinkEnd):
    frames: EthernetEnd | None = None   # the car's SLAC link (its end of the simulated powerline)

    async def sdp_target(self, sdp_port: int = v2gtp.SDP_PORT) -> tuple:
        """Where the car sends SDP requests: ff02::1 on its interface, or ::1 at the SECC's port."""
        if self.interface is None:
            return LOOPBACK_HOST, sdp_port
        interface = self.interface
        return await self.run(lambda: multicast_target(interface, sdp_port))


class _Ends:
    """One SECC end, one car end and the powerline between them per connector; the first one's shortcuts."""
    seccs: list[SeccEnd]
    evs: list[EvEnd]
    powerlines: list[SimulatedPowerline]

    @property
    def secc(self) -> SeccEnd:
        return self.seccs[0]

    @property
    def ev(self) -> EvEnd:
        return self.evs[0]

    @property
    def powerline(self) -> SimulatedPowerline:
        return self.powerlines[0]

    async def _close_powerlines(self) -> None:
        for powerline in self.powerlines:
            await powerline.close()
            powerline.evse_side.close()


def _mac(base: bytes, index: int) -> bytes:
    return base[:5] + bytes((base[5] + 0x10 * index,))


class LoopbackLink(_Ends):
    name = "loopback"

    def __init__(self, *, count: int = 1, attenuation_db: float = 22.0, seed: int | None = None, on_frame=None):
        """`on_frame(index, frame, direction)`: every frame on connector `index`'s simulated wire (the pcap)."""
        self.seccs, self.evs, self.powerlines = [], [], []
        for index in range(count):
            secc_frames, rig_frames = memory_cable(_mac(SECC_MAC, index), _mac(RIG_MAC, index))
            powerline = SimulatedPowerline(rig_frames, _mac(EV_MAC, index), attenuation_db=attenuation_db,
                                           seed=None if seed is None else seed + index,
                                           on_frame=_tap(on_frame, index))
            self.powerlines.append(powerline)
            self.seccs.append(SeccEnd(None, None, frames=secc_frames, sdp_port=0))
            self.evs.append(EvEnd(None, None, frames=powerline.ev_link))

    async def open(self) -> LoopbackLink:
        for powerline in self.powerlines:
            powerline.start()
        return self

    async def close(self) -> None:
        await self._close_powerlines()


class VethLink(_Ends):
    name = "veth"

    def __init__(self, *, count: int = 1, secc_here: bool = False, attenuation_db: float = 22.0,
                 seed: int | None = None, on_frame=None):
        """`secc_here`: the SECC ends in this process's namespace (for a controller in a separate process that
        shares the rig's CAN), see `VethPair`."""
        self.pair = VethPair(count, secc_here=secc_here)
        self.seccs = [SeccEnd(name, self.pair.secc_ns) for name in self.pair.secc_interfaces]
        self.evs = [EvEnd(name, self.pair.ev_ns) for name in self.pair.ev_interfaces]
        self.powerlines = []
        self._attenuation_db = attenuation_db
        self._seed = seed
        self._on_frame = on_frame

    async def open(self) -> VethLink:
        await asyncio.to_thread(self.pair.create)
        try:
            for index, end in enumerate(self.evs):
                name = end.interface
                rig_frames = await run_in_netns(self.pair.ev_ns, lambda: RawSocketEnd.open(name))
                # The car's host is the rig's end of the veth: frames for the car are addressed to that interface.
                powerline = SimulatedPowerline(rig_frames, rig_frames.mac, attenuation_db=self._attenuation_db,
                                               seed=None if self._seed is None else self._seed + index,
                                               on_frame=_tap(self._on_frame, index))
                self.powerlines.append(powerline)
                end.frames = powerline.ev_link
                powerline.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        await self._close_powerlines()
        self.powerlines.clear()
        await asyncio.to_thread(self.pair.remove)


def _tap(on_frame, index: int):
    if on_frame is None:
        return None
    return lambda frame, direction: on_frame(index, frame, direction)


LINK_MODES = {"loopback": LoopbackLink, "veth": VethLink}


async def open_link(mode: str, **options) -> LoopbackLink | VethLink:
    """Open the link mode named `mode` ("loopback" or "veth"); ValueError naming the known ones otherwise.
    The veth mode raises NetnsUnavailable with the reason when it cannot run here (not root, no `ip`)."""
    cls = LINK_MODES.get(mode)
    if cls is None:
        raise ValueError(f"unknown link mode {mode!r} (known: {', '.join(LINK_MODES)})")
    return await cls(**options).open()
