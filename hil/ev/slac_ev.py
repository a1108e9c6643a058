"""SLAC, EV side (ISO 15118-3): the rig's car finds the charger on the PLC link and learns its network key.

One attempt: CM_SLAC_PARM.REQ (broadcast, repeated while unanswered), three CM_START_ATTEN_CHAR.IND and the
sounds the charger asked for, CM_ATTEN_CHAR.RSP to its attenuation report, CM_SLAC_MATCH.REQ (repeated while
unanswered). A failed attempt is retried C_EV_match_retry times. Quirks of real cars (a fixed RunID like the
Tesla's "TESLA EV", extra repetitions of CM_SLAC_PARM.REQ, silence) come from `EvSlacPlan`.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from controller.formats.v2g import slac_messages as hp
from hil.wires.ethernet import EthernetEnd, HomePlugReader


@dataclass(frozen=True)
class EvSlacTimers:
    """EV-side timers (seconds) and counters; defaults from ISO 15118-3."""
    match_response_s: float = 0.2      # TT_match_response: our REQ to the charger's CNF
    atten_results_s: float = 1.2       # TT_EV_atten_results: start of sounding to CM_ATTEN_CHAR.IND
    sound_interval_s: float = 0.02     # between sounds (20-50 ms)
    match_retry: int = 2               # C_EV_match_retry: repetitions of a REQ, and of a whole attempt


@dataclass(frozen=True)
class EvSlacPlan:
    run_id: bytes | None = None        # None: a new random RunID per attempt
    start_atten_repeats: int = 3
    extra_parm_requests: int = 0       # quirk: send CM_SLAC_PARM.REQ again this many times although answered
    pev_id: bytes = bytes(17)

    def __post_init__(self) -> None:
        if self.run_id is not None and len(self.run_id) != 8:
            raise ValueError(f"a SLAC RunID is 8 bytes, got {len(self.run_id)}")


@dataclass(frozen=True)
class EvSlacResult:
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes
    attenuation: tuple[int, ...]
    attempts: int
    duration_s: float  # first CM_SLAC_PARM.REQ to CM_SLAC_MATCH.CNF


class SlacEvFailed(RuntimeError):
    """Matching failed after every retry; the message gives the last reason."""


class _AttemptFailed(Exception):
    pass


class SlacEv:
    def __init__(self, link: EthernetEnd, *, timers: EvSlacTimers = EvSlacTimers(), plan: EvSlacPlan = EvSlacPlan(),
                 clock: Callable[[], float] = time.monotonic):
        self.link = link
        self.timers = timers
        self.plan = plan
        self.clock = clock
        self.log: list[str] = []  # what happened, in order, for reports and failing tests

    async def match(self) -> EvSlacResult:
        inbox = HomePlugReader(self.link, self.clock)
        inbox.start()
        started = self.clock()
        reason = ""
        try:
            for attempt in range(1, 2 + self.timers.match_retry):
                run_id = self.plan.run_id or secrets.token_bytes(8)
                try:
                    evse_mac, attenuation, cnf = await self._attempt(inbox, run_id)
                except _AttemptFailed as exc:
                    reason = str(exc)
                    self.log.append(f"attempt {attempt} failed: {reason}")
                    continue
                return EvSlacResult(evse_mac, run_id, cnf.nid, cnf.nmk, attenuation, attempt, self.clock() - started)
        finally:
            await inbox.close()
        raise SlacEvFailed(f"SLAC failed after {1 + self.timers.match_retry} attempts: {reason}")

    def _send(self, destination: bytes, message: hp.SlacMessage) -> None:
        self.link.send(hp.build_frame(destination, self.link.mac, message))
        self.log.append(f"sent {message.name}")

    async def _request(self, inbox: HomePlugReader, destination: bytes, message: hp.SlacMessage,
                       answer: type[hp.SlacMessage], run_id: bytes) -> hp.HomePlugFrame:
        """Send `message` until an `answer` with our RunID arrives, 1 + C_EV_match_retry times at most."""
        for _ in range(1 + self.timers.match_retry):
            self._send(destination, message)
            deadline = self.clock() + self.timers.match_response_s
            while (frame := await inbox.next(deadline)) is not None:
                if isinstance(frame.message, answer) and frame.message.run_id == run_id:
                    return frame
        raise _AttemptFailed(f"no {hp.MMTYPE_NAMES[answer.MMTYPE]} to {1 + self.timers.match_retry} {message.name}")

    async def _attempt(self, inbox: HomePlugReader, run_id: bytes) -> tuple[bytes, tuple[int, ...], hp.SlacMatchCnf]:
        inbox.clear()
        request = hp.SlacParmReq(run_id=run_id)
        cnf_frame = await self._request(inbox, hp.BROADCAST_MAC, request, hp.SlacParmCnf, run_id)
        cnf: hp.SlacParmCnf = cnf_frame.message  # type: ignore[assignment]
        for _ in range(self.plan.extra_parm_requests):
            self._send(hp.BROADCAST_MAC, request)
        sounding_started = self.clock()
        await self._sound(cnf, run_id)
        indication = await self._attenuation(inbox, run_id, sounding_started)
        ind: hp.AttenCharInd = indication.message  # type: ignore[assignment]
        evse_mac = indication.source
        response = hp.AttenCharRsp(source_address=self.link.mac, run_id=run_id, result=0)
        self._send(evse_mac, response)
        match = hp.SlacMatchReq(pev_id=self.plan.pev_id, pev_mac=self.link.mac, evse_mac=evse_mac, run_id=run_id)
        for _ in range(1 + self.timers.match_retry):
            self._send(evse_mac, match)
            deadline = self.clock() + self.timers.match_response_s
            while (frame := await inbox.next(deadline)) is not None:
                if frame.source != evse_mac or getattr(frame.message, "run_id", None) != run_id:
                    continue
                if isinstance(frame.message, hp.SlacMatchCnf):
                    return evse_mac, ind.attenuation, frame.message
                if isinstance(frame.message, hp.AttenCharInd):
                    self._send(evse_mac, response)  # our RSP got lost; the charger repeats its report
        raise _AttemptFailed(f"no CM_SLAC_MATCH.CNF to {1 + self.timers.match_retry} CM_SLAC_MATCH.REQ")

    async def _sound(self, cnf: hp.SlacParmCnf, run_id: bytes) -> None:
        target = cnf.msound_target
        start = hp.StartAttenCharInd(num_sounds=cnf.num_sounds, timeout=cnf.timeout,
                                     forwarding_sta=self.link.mac, run_id=run_id)
        for _ in range(self.plan.start_atten_repeats):
            self._send(target, start)
            await asyncio.sleep(self.timers.sound_interval_s)
        for remaining in range(cnf.num_sounds - 1, -1, -1):
            self._send(target, hp.MnbcSoundInd(count=remaining, run_id=run_id, random=secrets.token_bytes(16)))
            await asyncio.sleep(self.timers.sound_interval_s)

    async def _attenuation(self, inbox: HomePlugReader, run_id: bytes, since: float) -> hp.HomePlugFrame:
        deadline = since + self.timers.atten_results_s
        while (frame := await inbox.next(deadline)) is not None:
            if isinstance(frame.message, hp.AttenCharInd) and frame.message.run_id == run_id:
                return frame
        raise _AttemptFailed("no CM_ATTEN_CHAR.IND within TT_EV_atten_results")
