"""Everything between the charger's Ethernet interface and the car's host, as the rig simulates it.

On a real charger the SECC host talks Ethernet to its own PLC modem; the modem and the car's modem talk over
the control pilot wire. Here one object stands in for both modems and the wire:

- the charger's modem: answers CM_SET_KEY.REQ (remembering the key), and for every sound the car sends it
  reports an attenuation profile (CM_ATTEN_PROFILE.IND, 58 carrier groups) to the charger's host;
- the wire: every other frame passes between the two hosts; `drop` can lose chosen frames for tests;
- the car's modem: `joined` is set once the car was given the key the charger's modem holds.

The charger's side is any EthernetEnd (a raw socket on the rig's veth end, or one end of an in-memory cable);
the car gets `ev_link`, one end of an in-memory cable whose MAC is `ev_mac`.

`on_frame(raw, direction)` sees every frame that crosses: "to_ev" for what the charger's host sent (to the
car or to its own modem), "to_evse" for what reaches the charger's host (from the car or from its modem).
Frames lost by `drop` and frames too broken to parse never cross, so it does not see them.
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Callable

from controller.formats.v2g import slac_messages as hp
from hil.wires.ethernet import EthernetEnd, WireClosed, memory_cable

log = logging.getLogger(__name__)

LOCAL_MODEM_MAC = bytes.fromhex("00b052000001")  # where hosts send management messages for their own modem
CARRIER_GROUPS = 58
FrameFilter = Callable[[hp.HomePlugFrame, str], bool]  # (frame, "to_ev" | "to_evse") -> True to lose it
FrameObserver = Callable[[bytes, str], None]  # (raw Ethernet frame, "to_ev" | "to_evse")


class SimulatedPowerline:
    def __init__(self, evse_side: EthernetEnd, ev_mac: bytes, *, modem_mac: bytes = bytes.fromhex("02b052000001"),
                 attenuation_db: float = 22.0, noise_db: float = 2.0, drop: FrameFilter | None = None,
                 seed: int | None = None, on_frame: FrameObserver | None = None):
        self.evse_side = evse_side
        self.modem_mac = modem_mac
        self.attenuation_db = attenuation_db
        self.noise_db = noise_db
        self.drop = drop
        self.on_frame = on_frame  # may also be set after construction, before SLAC starts
        self._random = random.Random(seed)
        self._ev_host, self.ev_link = memory_cable(bytes(6), ev_mac)
        self.modem_key: tuple[bytes, bytes] | None = None  # (NID, NMK) set by the charger
        self.joined = asyncio.Event()
        self.frames_to_ev = 0
        self.frames_to_evse = 0
        self._tasks: list[asyncio.Task] = []

    @property
    def ev_mac(self) -> bytes:
        return self.ev_link.mac

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._from_evse(), name="powerline-from-evse"),
                       loop.create_task(self._from_ev(), name="powerline-from-ev")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.ev_link.close()
        self._ev_host.close()

    def _lost(self, frame: hp.HomePlugFrame, direction: str) -> bool:
        return self.drop is not None and self.drop(frame, direction)

    async def _from_evse(self) -> None:
        try:
            while True:
                raw = await self.evse_side.receive()
                frame = _parse(raw)
                if frame is None or frame.source == self.ev_mac:
                    continue
                if isinstance(frame.message, hp.SetKeyReq) or frame.destination in (LOCAL_MODEM_MAC, self.modem_mac):
                    self._observe(raw, "to_ev")
                    self._modem(frame)
                    continue
                if self._lost(frame, "to_ev"):
                    continue
                if isinstance(frame.message, hp.SlacMatchCnf) and self.modem_key == (frame.message.nid,
                                                                                     frame.message.nmk):
                    self.joined.set()
                self.frames_to_ev += 1
                self._observe(raw, "to_ev")
                self._ev_host.send(raw)
        except WireClosed:
            log.info("powerline: the charger's side closed")

    async def _from_ev(self) -> None:
        try:
            while True:
                raw = await self._ev_host.receive()
                frame = _parse(raw)
                if frame is None or self._lost(frame, "to_evse"):
                    continue
                self.frames_to_evse += 1
                self._to_evse(raw)
                if isinstance(frame.message, hp.MnbcSoundInd):
                    profile = hp.AttenProfileInd(pev_mac=frame.source, attenuation=self._profile())
                    self._to_evse(hp.build_frame(self.evse_side.mac, self.modem_mac, profile))
        except WireClosed:
            log.info("powerline: the car's side closed")

    def _to_evse(self, raw: bytes) -> None:
        try:
            self.evse_side.send(raw)
        except (OSError, WireClosed) as exc:
            log.warning("powerline: frame to the charger lost: %s", exc)
            return
        self._observe(raw, "to_evse")

    def _observe(self, raw: bytes, direction: str) -> None:
        if self.on_frame is None:
            return
        try:
            self.on_frame(raw, direction)
        except Exception:  # noqa: BLE001 - a broken recorder must not take the link down with it
            log.exception("powerline: on_frame failed; frames are no longer reported")
            self.on_frame = None

    def _modem(self, frame: hp.HomePlugFrame) -> None:
        message = frame.message
        if isinstance(message, hp.SetKeyReq):
            self.modem_key = (message.nid, message.new_key)
            self.joined.clear()
            answer = hp.SetKeyCnf(result=0, my_nonce=self._random.getrandbits(32), your_nonce=message.my_nonce)
            self._to_evse(hp.build_frame(frame.source, self.modem_mac, answer))

    def _profile(self) -> tuple[int, ...]:
        """Attenuation rising gently with frequency, plus noise; what a few metres of cable look like."""
        return tuple(max(0, min(255, round(self.attenuation_db + 0.1 * group
                                           + self._random.gauss(0.0, self.noise_db))))
                     for group in range(CARRIER_GROUPS))


def _parse(raw: bytes) -> hp.HomePlugFrame | None:
    try:
        return hp.parse_frame(raw)
    except hp.SlacError:
        return None
