"""SLAC, EVSE side (ISO 15118-3): match one car to this charger's PLC network, with the standard's timers.

One matching session per plug-in: `start()` sets a fresh random NMK/NID on the local modem (CM_SET_KEY),
then waits for the car's CM_SLAC_PARM.REQ, collects its sounds (the modem reports each as
CM_ATTEN_PROFILE.IND), sends the averaged attenuation (CM_ATTEN_CHAR.IND, repeated up to C_EV_match_retry
times without an answer) and answers CM_SLAC_MATCH.REQ with the NID and NMK. A failed attempt waits
TT_matching_repetition for the car's retry; the car must use the link within TT_match_join (`link_up()`,
called when its first SDP request arrives).

States, in order: idle, setting_key, waiting, sounding, reporting, awaiting_match, matched; failed ends a
session (reason in `failure`) until the next `start()`. `matching` is true from the first CM_SLAC_PARM.REQ:
ISO 15118-3 reports "matching" only once the car has started.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from controller.formats.v2g import slac_messages as hp
from controller.v2g.ethernet import FrameLink, HomePlugInbox, LinkClosed

log = logging.getLogger(__name__)

# Qualcomm Atheros modems answer host management messages sent to this address (their "local" address).
LOCAL_MODEM_MAC = bytes.fromhex("00b052000001")
STATES = ("idle", "setting_key", "waiting", "sounding", "reporting", "awaiting_match", "matched", "failed")
MATCHING_STATES = ("sounding", "reporting", "awaiting_match")
NUM_SOUNDS = 10  # sounds asked of the car in CM_SLAC_PARM.CNF
StateCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class SlacTimers:
    """ISO 15118-3 timers (seconds) and counters, EVSE side. Defaults are the standard's values."""
    slac_init_s: float = 50.0             # TT_EVSE_SLAC_init: start to the car's first CM_SLAC_PARM.REQ (20-50 s)
    match_sequence_s: float = 0.4         # TT_match_sequence: CM_SLAC_PARM.CNF to CM_START_ATTEN_CHAR.IND
    mnbc_s: float = 0.6                   # TT_EVSE_match_MNBC: the sounding window
    match_response_s: float = 0.2         # TT_match_response: CM_ATTEN_CHAR.IND to its RSP
    match_retry: int = 2                  # C_EV_match_retry: repetitions of CM_ATTEN_CHAR.IND
    match_session_s: float = 10.0         # TT_EVSE_match_session: CM_ATTEN_CHAR.RSP to CM_SLAC_MATCH.REQ
    matching_repetition_s: float = 10.0   # TT_matching_repetition: a failed attempt to the car's retry
    match_join_s: float = 12.0            # TT_match_join: CM_SLAC_MATCH.CNF to the car using the link
    set_key_s: float = 1.0                # the modem's CM_SET_KEY.CNF (no standard timer)
    set_key_attempts: int = 3


@dataclass(frozen=True)
class SlacMatch:
    ev_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes
    attenuation: tuple[int, ...]  # average per carrier group, dB
    sounds: int                   # attenuation profiles averaged
    duration_s: float             # the car's CM_SLAC_PARM.REQ to our CM_SLAC_MATCH.CNF

    def to_json(self) -> dict:
        return {"ev_mac": hp.format_mac(self.ev_mac), "run_id": self.run_id.hex(), "nid": self.nid.hex(),
                "sounds": self.sounds, "duration_s": round(self.duration_s, 4),
                "mean_attenuation_db": round(sum(self.attenuation) / max(1, len(self.attenuation)), 1)}


def new_network_key() -> tuple[bytes, bytes]:
    """A random NMK and a random NID (54 bits; security level 0 = simple connect, reserved bits 0)."""
    nid = bytearray(secrets.token_bytes(7))
    nid[6] &= 0x0F
    return bytes(nid), secrets.token_bytes(16)


class _Failed(Exception):
    """The session cannot go on."""


class _AttemptFailed(Exception):
    """This matching attempt failed; the car may retry."""


class _NewRequest(Exception):
    def __init__(self, frame: hp.HomePlugFrame):
        self.frame = frame


@dataclass
class _Attempt:
    ev_mac: bytes
    run_id: bytes
    started_t: float
    profiles: list[tuple[int, ...]] = field(default_factory=list)


class SlacEvse:
    def __init__(self, link: FrameLink, *, timers: SlacTimers = SlacTimers(), modem_mac: bytes = LOCAL_MODEM_MAC,
                 evse_id: bytes = bytes(17), clock: Callable[[], float] = time.monotonic, name: str = "slac"):
        self.link = link
        self.timers = timers
        self.modem_mac = modem_mac
        self.evse_id = evse_id
        self.clock = clock
        self.name = name
        self.state = "idle"
        self.failure: str | None = None
        self.result: SlacMatch | None = None
        self.matched = asyncio.Event()
        self.attempts = 0
        self.nid, self.nmk = new_network_key()
        self._inbox = HomePlugInbox(link, clock)
        self._callbacks: list[StateCallback] = []
        self._task: asyncio.Task | None = None
        self._attempt: _Attempt | None = None
        self._link_is_up = False

    # ---- public interface -----------------------------------------------------------------------------
    @property
    def matching(self) -> bool:
        return self.state in MATCHING_STATES

    def on_state(self, callback: StateCallback) -> None:
        """callback(state, detail) after every state change."""
        self._callbacks.append(callback)

    def start(self) -> None:
        """Begin a new matching session (a plug-in): new key, fresh timers. Ends any running session first.
        Synchronous, so the connector can call it from its state-entry actions."""
        self.stop()
        self.nid, self.nmk = new_network_key()
        self.failure, self.result, self.attempts = None, None, 0
        self._link_is_up = False
        self._inbox.start()
        self._inbox.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-session")

    def stop(self) -> None:
        """End the session (unplug); the link stays open for the next start()."""
        if self._task is not None:
            self._task.cancel()  # it stops at its next await: no frame is consumed, no state set after this
            self._task = None
        self.matched.clear()
        self._attempt = None
        if self.state != "idle":
            self._set("idle", "stopped")

    async def close(self) -> None:
        task = self._task
        self.stop()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self._inbox.close()

    def link_up(self) -> None:
        """The matched car is talking over the link (its first SDP request): TT_match_join is met."""
        self._link_is_up = True

    # ---- the session --------------------------------------------------------------------------------------
    def _set(self, state: str, detail: str = "") -> None:
        self.state = state
        log.info("%s: %s %s", self.name, state, detail)
        for callback in list(self._callbacks):
            try:
                callback(state, detail)
            except Exception:  # an observer must not break matching
                log.exception("%s: state callback failed", self.name)

    async def _run(self) -> None:
        try:
            early = await self._set_key()
            t = self.timers
            request = early or await self._wait_for_request(
                t.slac_init_s, "no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")
            while True:
                try:
                    await self._match(request)
                except _NewRequest as new:
                    request = new.frame
                except _AttemptFailed as exc:
                    self.matched.clear()
                    self._set("waiting", f"attempt {self.attempts} failed: {exc}")
                    request = await self._wait_for_request(
                        t.matching_repetition_s, f"{exc}; no new CM_SLAC_PARM.REQ within TT_matching_repetition")
        except _Failed as exc:
            self._fail(str(exc))
        except LinkClosed:
            self._fail("the PLC frame link closed")

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self.matched.clear()
        self._set("failed", reason)

    def _send(self, destination: bytes, message: hp.SlacMessage) -> None:
        try:
            self.link.send(hp.build_frame(destination, self.link.mac, message))
        except OSError as exc:  # a lost frame: the timers and retries of the sequence cover it
            log.warning("%s: sending %s failed: %s", self.name, message.name, exc)

    async def _set_key(self) -> hp.HomePlugFrame | None:
        """Returns a CM_SLAC_PARM.REQ that arrived meanwhile, if any."""
        self._set("setting_key")
        early = None
        nonce = secrets.randbits(32)
        request = hp.SetKeyReq(nid=self.nid, new_key=self.nmk, my_nonce=nonce)
        for _ in range(self.timers.set_key_attempts):
            self._send(self.modem_mac, request)
            deadline = self.clock() + self.timers.set_key_s
            while (frame := await self._inbox.next(deadline)) is not None:
                if isinstance(frame.message, hp.SlacParmReq):
                    early = frame  # a quick car: answered once the modem holds the key
                if isinstance(frame.message, hp.SetKeyCnf):
                    if frame.message.result != 0:
                        raise _Failed(f"the modem refused the new key (CM_SET_KEY.CNF result {frame.message.result})")
                    self._set("waiting", "key set; waiting for the car's CM_SLAC_PARM.REQ")
                    return early
        raise _Failed(f"no CM_SET_KEY.CNF from the modem after {self.timers.set_key_attempts} requests")

    async def _wait_for_request(self, within_s: float, reason: str) -> hp.HomePlugFrame:
        deadline = self.clock() + within_s
        while (frame := await self._inbox.next(deadline)) is not None:
            if isinstance(frame.message, hp.SlacParmReq):
                return frame
        raise _Failed(reason)

    async def _next(self, deadline: float | None) -> hp.HomePlugFrame | None:
        """The next frame of the current attempt (right car, right RunID). A CM_SLAC_PARM.REQ starts a new
        attempt (_NewRequest), except a repeat of this attempt's (answered again) and, once matched, one from
        another car (ignored)."""
        attempt = self._attempt
        while True:
            frame = await self._inbox.next(deadline)
            if frame is None:
                return None
            message = frame.message
            if isinstance(message, hp.SlacParmReq):
                same_car = attempt is not None and frame.source == attempt.ev_mac
                if same_car and message.run_id == attempt.run_id and self.state == "sounding":
                    self._send_parm_cnf(attempt)  # our confirmation got lost
                    continue
                if self.state == "matched" and not same_car:
                    log.info("%s: ignoring CM_SLAC_PARM.REQ from %s while matched", self.name,
                             hp.format_mac(frame.source))  # another cable's car, heard through crosstalk
                    continue
                raise _NewRequest(frame)
            if isinstance(message, hp.AttenProfileInd):
                if attempt and message.pev_mac == attempt.ev_mac:
                    return frame
                continue
            if attempt and frame.source == attempt.ev_mac and getattr(message, "run_id", None) == attempt.run_id:
                return frame

    def _send_parm_cnf(self, attempt: _Attempt) -> None:
        timeout = max(1, round(self.timers.mnbc_s * 10))
        self._send(attempt.ev_mac, hp.SlacParmCnf(forwarding_sta=attempt.ev_mac, run_id=attempt.run_id,
                                                  num_sounds=NUM_SOUNDS, timeout=timeout))

    async def _match(self, request: hp.HomePlugFrame) -> None:
        parm: hp.SlacParmReq = request.message  # type: ignore[assignment]
        self.attempts += 1
        self.matched.clear()
        self._link_is_up = False
        attempt = self._attempt = _Attempt(request.source, parm.run_id, self.clock())
        self._set("sounding", f"car {hp.format_mac(attempt.ev_mac)} RunID {attempt.run_id.hex()}")
        self._send_parm_cnf(attempt)
        await self._collect_sounds(attempt)
        await self._report_attenuation(attempt)
        self._set("awaiting_match")
        deadline = self.clock() + self.timers.match_session_s
        while True:
            frame = await self._next(deadline)
            if frame is None:
                raise _AttemptFailed("no CM_SLAC_MATCH.REQ within TT_EVSE_match_session")
            if isinstance(frame.message, hp.SlacMatchReq):
                break
            if isinstance(frame.message, hp.AttenCharRsp):
                continue  # the car answered a repeated CM_ATTEN_CHAR.IND twice
        self._confirm_match(attempt)
        self.result = SlacMatch(attempt.ev_mac, attempt.run_id, self.nid, self.nmk, _average(attempt.profiles),
                                len(attempt.profiles), self.clock() - attempt.started_t)
        self._set("matched", f"car {hp.format_mac(attempt.ev_mac)} in {self.result.duration_s * 1000:.0f} ms")
        self.matched.set()
        await self._serve_matched(attempt)

    async def _collect_sounds(self, attempt: _Attempt) -> None:
        t = self.timers
        deadline = self.clock() + t.match_sequence_s
        window_open = False
        while (frame := await self._next(deadline)) is not None:
            message = frame.message
            if not window_open and isinstance(message, (hp.StartAttenCharInd, hp.MnbcSoundInd, hp.AttenProfileInd)):
                window_open = True
                deadline = self.clock() + t.mnbc_s
            if isinstance(message, hp.AttenProfileInd):
                attempt.profiles.append(message.attenuation)
                if len(attempt.profiles) >= NUM_SOUNDS:
                    break
        if not window_open:
            raise _AttemptFailed("no CM_START_ATTEN_CHAR.IND within TT_match_sequence")
        if not attempt.profiles:
            raise _AttemptFailed("the modem reported no attenuation profile within TT_EVSE_match_MNBC")

    async def _report_attenuation(self, attempt: _Attempt) -> None:
        self._set("reporting", f"{len(attempt.profiles)} sounds")
        indication = hp.AttenCharInd(source_address=attempt.ev_mac, run_id=attempt.run_id,
                                     num_sounds=len(attempt.profiles), attenuation=_average(attempt.profiles))
        for _ in range(1 + self.timers.match_retry):
            self._send(attempt.ev_mac, indication)
            deadline = self.clock() + self.timers.match_response_s
            while (frame := await self._next(deadline)) is not None:
                if isinstance(frame.message, hp.AttenCharRsp):
                    if frame.message.result != 0:
                        raise _AttemptFailed(f"the car rejected the attenuation (result {frame.message.result})")
                    return
        raise _AttemptFailed(f"no CM_ATTEN_CHAR.RSP to {1 + self.timers.match_retry} CM_ATTEN_CHAR.IND")

    def _confirm_match(self, attempt: _Attempt) -> None:
        self._send(attempt.ev_mac, hp.SlacMatchCnf(
            pev_mac=attempt.ev_mac, evse_id=self.evse_id, evse_mac=self.link.mac, run_id=attempt.run_id,
            nid=self.nid, nmk=self.nmk))

    async def _serve_matched(self, attempt: _Attempt) -> None:
        """Answer repeated CM_SLAC_MATCH.REQ (our CNF got lost) until the car uses the link or TT_match_join ends."""
        join_deadline = self.clock() + self.timers.match_join_s
        while True:
            frame = await self._next(None if self._link_is_up else join_deadline)
            if frame is None:
                if self._link_is_up:
                    continue
                raise _AttemptFailed("the matched car did not use the link within TT_match_join")
            if isinstance(frame.message, hp.SlacMatchReq):
                self._confirm_match(attempt)


def _average(profiles: list[tuple[int, ...]]) -> tuple[int, ...]:
    groups = min((len(p) for p in profiles), default=0)
    return tuple(round(sum(p[i] for p in profiles) / len(profiles)) for i in range(groups))
