"""SimulatedPowerline(on_frame=...): every frame that crosses the simulated wire or a modem, with its direction."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.v2g import slac_messages as hp
from controller.v2g.slac import SlacEvse, SlacTimers
from hil.ev.slac_ev import SlacEv
from hil.link.powerline import SimulatedPowerline
from hil.wires.ethernet import memory_cable

pytestmark = pytest.mark.timeout(30)

EVSE_MAC = bytes.fromhex("020000000001")
RIG_MAC = bytes.fromhex("020000000002")
EV_MAC = bytes.fromhex("0a0000000003")
TIMERS = SlacTimers(slac_init_s=2.0, match_session_s=1.0, matching_repetition_s=1.0, match_join_s=0.5)


class Wire:
    """A powerline between an EVSE-side in-memory cable end and the car's link, recording what on_frame saw."""

    def __init__(self, drop=None):
        self.evse, rig = memory_cable(EVSE_MAC, RIG_MAC)
        self.seen: list[tuple[bytes, str]] = []
        self.powerline = SimulatedPowerline(rig, EV_MAC, drop=drop, seed=1,
                                            on_frame=lambda raw, direction: self.seen.append((raw, direction)))

    def names(self) -> list[tuple[str, str]]:
        return [(hp.parse_frame(raw).name, direction) for raw, direction in self.seen]

    async def __aenter__(self) -> Wire:
        self.powerline.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.powerline.close()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_frame_each_way_reaches_on_frame_whole_with_its_direction():
    parm_req = hp.build_frame(hp.BROADCAST_MAC, EV_MAC, hp.SlacParmReq(run_id=b"RUN00001"))
    parm_cnf = hp.build_frame(EV_MAC, EVSE_MAC, hp.SlacParmCnf(run_id=b"RUN00001", forwarding_sta=EV_MAC))

    async def main():
        async with Wire() as wire:
            wire.powerline.ev_link.send(parm_req)
            assert await asyncio.wait_for(wire.evse.receive(), 1.0) == parm_req
            wire.evse.send(parm_cnf)
            assert await asyncio.wait_for(wire.powerline.ev_link.receive(), 1.0) == parm_cnf
            assert wire.seen == [(parm_req, "to_evse"), (parm_cnf, "to_ev")]
    asyncio.run(main())


def test_the_modems_own_answers_are_reported_toward_the_evse():
    set_key = hp.build_frame(bytes.fromhex("00b052000001"), EVSE_MAC,
                             hp.SetKeyReq(my_nonce=7, nid=b"\x01" * 7, new_key=b"\x02" * 16))
    sound = hp.build_frame(hp.BROADCAST_MAC, EV_MAC, hp.MnbcSoundInd(run_id=b"RUN00001", count=9))

    async def main():
        async with Wire() as wire:
            wire.evse.send(set_key)
            confirm = await asyncio.wait_for(wire.evse.receive(), 1.0)
            wire.powerline.ev_link.send(sound)
            assert await asyncio.wait_for(wire.evse.receive(), 1.0) == sound
            profile = await asyncio.wait_for(wire.evse.receive(), 1.0)
            assert wire.seen == [(set_key, "to_ev"), (confirm, "to_evse"), (sound, "to_evse"), (profile, "to_evse")]
            assert wire.names()[-1] == ("CM_ATTEN_PROFILE.IND", "to_evse")
            assert wire.names()[1] == ("CM_SET_KEY.CNF", "to_evse")
    asyncio.run(main())


def test_dropped_frames_are_not_reported():
    parm_req = hp.build_frame(hp.BROADCAST_MAC, EV_MAC, hp.SlacParmReq(run_id=b"RUN00001"))
    match_req = hp.build_frame(EVSE_MAC, EV_MAC, hp.SlacMatchReq(run_id=b"RUN00001", pev_mac=EV_MAC, evse_mac=EVSE_MAC))

    async def main():
        async with Wire(drop=lambda frame, direction: isinstance(frame.message, hp.SlacParmReq)) as wire:
            wire.powerline.ev_link.send(parm_req)
            wire.powerline.ev_link.send(match_req)
            assert await asyncio.wait_for(wire.evse.receive(), 1.0) == match_req
            assert wire.names() == [("CM_SLAC_MATCH.REQ", "to_evse")]
    asyncio.run(main())


def test_a_failing_observer_is_dropped_and_the_link_goes_on(caplog):
    parm_req = hp.build_frame(hp.BROADCAST_MAC, EV_MAC, hp.SlacParmReq(run_id=b"RUN00001"))

    def broken(raw: bytes, direction: str) -> None:
        raise OSError("disk full")

    async def main():
        async with Wire() as wire:
            wire.powerline.on_frame = broken
            for _ in range(2):
                wire.powerline.ev_link.send(parm_req)
                assert await asyncio.wait_for(wire.evse.receive(), 1.0) == parm_req
            assert wire.powerline.on_frame is None
    asyncio.run(main())
    assert "on_frame failed" in caplog.text


def test_a_whole_match_reports_every_slac_message_in_both_directions():
    async def main():
        async with Wire() as wire:
            evse = SlacEvse(wire.evse, timers=TIMERS)
            evse.start()
            try:
                await SlacEv(wire.powerline.ev_link).match()
                await asyncio.wait_for(evse.matched.wait(), 2.0)
                await _settle()
            finally:
                await evse.close()
            names = set(wire.names())
            assert {("CM_SET_KEY.REQ", "to_ev"), ("CM_SET_KEY.CNF", "to_evse"),
                    ("CM_SLAC_PARM.REQ", "to_evse"), ("CM_SLAC_PARM.CNF", "to_ev"),
                    ("CM_START_ATTEN_CHAR.IND", "to_evse"), ("CM_MNBC_SOUND.IND", "to_evse"),
                    ("CM_ATTEN_PROFILE.IND", "to_evse"), ("CM_ATTEN_CHAR.IND", "to_ev"),
                    ("CM_ATTEN_CHAR.RSP", "to_evse"), ("CM_SLAC_MATCH.REQ", "to_evse"),
                    ("CM_SLAC_MATCH.CNF", "to_ev")} <= names
            across = [raw for raw, d in wire.seen if d == "to_ev" and hp.parse_frame(raw).name != "CM_SET_KEY.REQ"]
            assert wire.powerline.frames_to_ev == len(across)  # the modem's own frames did not go to the car
    asyncio.run(main())
