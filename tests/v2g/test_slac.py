"""SLAC between the controller's EVSE side and the rig's car over an in-process link and the simulated powerline."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.v2g import slac_messages as hp
from controller.v2g.ethernet import MemoryLink
from controller.v2g.slac import SlacEvse, SlacTimers
from hil.controller_handle import secc_frame_end
from hil.ev.slac_ev import EvSlacPlan, EvSlacTimers, SlacEv, SlacEvFailed
from hil.link.powerline import CARRIER_GROUPS, SimulatedPowerline
from hil.wires.ethernet import memory_cable

pytestmark = pytest.mark.timeout(30)

EVSE_MAC = bytes.fromhex("020000000001")
RIG_MAC = bytes.fromhex("020000000002")
EV_MAC = bytes.fromhex("0a0000000003")
# The standard's short timers as they are; the long ones (tens of seconds) shortened so failures come fast.
TIMERS = SlacTimers(slac_init_s=2.0, match_session_s=1.0, matching_repetition_s=1.0, match_join_s=0.5)


class Bench:
    """EVSE and car on either side of the simulated powerline; `sent` counts frames by name per direction."""

    def __init__(self, timers: SlacTimers = TIMERS, drop=None, plan: EvSlacPlan = EvSlacPlan(),
                 ev_timers: EvSlacTimers = EvSlacTimers()):
        secc_end, rig_link = memory_cable(EVSE_MAC, RIG_MAC)
        evse_link = secc_frame_end(secc_end)  # as the rig hands the cable to an in-process controller
        self.sent: dict[tuple[str, str], int] = {}
        self._drop = drop
        self.powerline = SimulatedPowerline(rig_link, EV_MAC, drop=self._count_and_drop, seed=1)
        self.evse = SlacEvse(evse_link, timers=timers)
        self.states: list[tuple[str, str]] = []
        self.evse.on_state(lambda state, detail: self.states.append((state, detail)))
        self.ev = SlacEv(self.powerline.ev_link, timers=ev_timers, plan=plan)
        self.evse_link, self.rig_link = evse_link, rig_link

    def _count_and_drop(self, frame: hp.HomePlugFrame, direction: str) -> bool:
        key = (frame.name, direction)
        self.sent[key] = self.sent.get(key, 0) + 1
        return bool(self._drop and self._drop(frame, direction, self.sent[key]))

    async def __aenter__(self) -> Bench:
        self.powerline.start()
        self.evse.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.evse.close()
        await self.powerline.close()

    async def until_state(self, state: str, timeout: float = 5.0) -> None:
        async def poll() -> None:
            while self.evse.state != state:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout)

    def names(self) -> list[str]:
        return [state for state, _ in self.states]


async def _pending(link: MemoryLink) -> bytes | None:
    try:
        return await asyncio.wait_for(link.receive(), 0.05)
    except asyncio.TimeoutError:
        return None


def test_a_whole_match_gives_both_sides_the_key_the_modem_holds():
    async def main():
        async with Bench() as bench:
            result = await bench.ev.match()
            await asyncio.wait_for(bench.evse.matched.wait(), 2.0)
            bench.evse.link_up()
            match = bench.evse.result
            assert (result.nid, result.nmk) == (match.nid, match.nmk) == bench.powerline.modem_key
            assert bench.powerline.joined.is_set()
            assert result.evse_mac == EVSE_MAC and match.ev_mac == EV_MAC and match.run_id == result.run_id
            assert len(match.attenuation) == CARRIER_GROUPS and match.sounds == 10
            assert 15 <= sum(match.attenuation) / CARRIER_GROUPS <= 35
            assert result.attenuation == match.attenuation and result.attempts == 1
            assert match.nid[6] & 0xF0 == 0  # security level "simple connect"
            await asyncio.sleep(TIMERS.match_join_s + 0.2)  # the car used the link: still matched
            assert bench.evse.state == "matched"
            assert bench.names() == ["setting_key", "waiting", "sounding", "reporting", "awaiting_match", "matched"]
    asyncio.run(main())


def test_matching_is_reported_only_after_the_car_started():
    async def main():
        async with Bench() as bench:
            await bench.until_state("waiting")
            assert not bench.evse.matching
            task = asyncio.create_task(bench.ev.match())
            await bench.until_state("sounding")
            assert bench.evse.matching
            await task
    asyncio.run(main())


def test_a_silent_car_ends_the_session_after_tt_evse_slac_init():
    async def main():
        async with Bench(timers=replace(TIMERS, slac_init_s=0.3)) as bench:
            await bench.until_state("failed")
            assert "TT_EVSE_SLAC_init" in bench.evse.failure
            assert not bench.evse.matched.is_set()
    asyncio.run(main())


def test_a_silent_modem_fails_the_key_setup():
    async def main():
        evse_link, _rig = MemoryLink.pair(EVSE_MAC, RIG_MAC)  # nothing answers on the other end
        evse = SlacEvse(evse_link, timers=replace(TIMERS, set_key_s=0.05))
        evse.start()
        while evse.state != "failed":
            await asyncio.sleep(0.01)
        assert "CM_SET_KEY.CNF" in evse.failure
        await evse.close()
    asyncio.run(main())


def test_the_car_gives_up_after_c_ev_match_retry_when_no_charger_answers():
    async def main():
        ev_link, rig = memory_cable(EV_MAC, RIG_MAC)
        ev = SlacEv(ev_link, timers=EvSlacTimers(match_response_s=0.02))
        with pytest.raises(SlacEvFailed, match="CM_SLAC_PARM.CNF"):
            await ev.match()
        requests = 0
        while frame := await _pending(rig):
            requests += hp.parse_frame(frame).name == "CM_SLAC_PARM.REQ"
        assert requests == 9  # three attempts of three requests each
    asyncio.run(main())


def test_repeated_parm_requests_are_answered_again_and_matching_goes_on():
    async def main():
        async with Bench(plan=EvSlacPlan(extra_parm_requests=2)) as bench:
            await bench.ev.match()
            await asyncio.wait_for(bench.evse.matched.wait(), 2.0)
            assert bench.sent[("CM_SLAC_PARM.REQ", "to_evse")] == 3
            assert bench.sent[("CM_SLAC_PARM.CNF", "to_ev")] == 3
            assert bench.evse.attempts == 1
    asyncio.run(main())


def test_a_lost_attenuation_response_makes_the_charger_repeat_its_report():
    lose_first = lambda frame, direction, n: frame.name == "CM_ATTEN_CHAR.RSP" and n == 1  # noqa: E731
    async def main():
        async with Bench(drop=lose_first) as bench:
            await bench.ev.match()
            await asyncio.wait_for(bench.evse.matched.wait(), 2.0)
            assert bench.sent[("CM_ATTEN_CHAR.IND", "to_ev")] == 2
    asyncio.run(main())


def test_every_attenuation_response_lost_fails_each_attempt_and_then_the_session():
    lose_all = lambda frame, direction, n: frame.name == "CM_ATTEN_CHAR.RSP"  # noqa: E731
    async def main():
        # The car waits longer for CM_SLAC_MATCH.CNF than the charger repeats its report, so each of its
        # retries reaches a charger that has already given up on the attempt before.
        async with Bench(drop=lose_all, ev_timers=EvSlacTimers(match_response_s=0.3)) as bench:
            with pytest.raises(SlacEvFailed):
                await bench.ev.match()
            await bench.until_state("failed")
            assert bench.evse.attempts == 3
            assert bench.sent[("CM_ATTEN_CHAR.IND", "to_ev")] == 9  # 1 + C_EV_match_retry per attempt
            assert "TT_matching_repetition" in bench.evse.failure
    asyncio.run(main())


def test_a_lost_match_confirmation_is_sent_again():
    lose_first = lambda frame, direction, n: frame.name == "CM_SLAC_MATCH.CNF" and n == 1  # noqa: E731
    async def main():
        async with Bench(drop=lose_first) as bench:
            result = await bench.ev.match()
            assert result.attempts == 1
            assert bench.sent[("CM_SLAC_MATCH.REQ", "to_evse")] == 2
            assert bench.evse.state == "matched"
    asyncio.run(main())


def test_a_car_that_never_uses_the_link_is_dropped_after_tt_match_join():
    async def main():
        async with Bench() as bench:
            await bench.ev.match()
            await bench.until_state("failed", timeout=TIMERS.match_join_s + TIMERS.matching_repetition_s + 2)
            assert "TT_match_join" in bench.evse.failure
            assert "waiting" in bench.names()[bench.names().index("matched"):]
    asyncio.run(main())


def test_the_car_retries_a_failed_attempt_and_the_charger_follows():
    def lose_first_attempt(frame, direction, n):  # no sound of the first attempt reaches the charger
        return (frame.name, n <= 3) == ("CM_START_ATTEN_CHAR.IND", True) \
            or (frame.name, n <= 10) == ("CM_MNBC_SOUND.IND", True)

    async def main():
        async with Bench(drop=lose_first_attempt) as bench:
            result = await bench.ev.match()
            assert result.attempts == 2
            await asyncio.wait_for(bench.evse.matched.wait(), 2.0)
            assert bench.evse.attempts == 2
            assert bench.evse.result.run_id == result.run_id
    asyncio.run(main())


def test_a_fixed_tesla_run_id_and_a_restart_per_plug_in():
    async def main():
        async with Bench(plan=EvSlacPlan(run_id=b"TESLA EV")) as bench:
            first = await bench.ev.match()
            assert first.run_id == b"TESLA EV"
            bench.evse.start()  # the next plug-in: a new network key
            second = await bench.ev.match()
            assert second.nmk != first.nmk and second.nmk == bench.evse.nmk
            bench.evse.stop()
            assert bench.evse.state == "idle" and not bench.evse.matched.is_set()
    asyncio.run(main())


def test_once_matched_only_the_matched_car_can_start_over():
    async def main():
        async with Bench() as bench:
            await bench.ev.match()
            bench.evse.link_up()
            stranger = hp.SlacParmReq(run_id=b"STRANGER")
            bench.rig_link.send(hp.build_frame(hp.BROADCAST_MAC, bytes.fromhex("0a00000000ff"), stranger))
            await asyncio.sleep(0.1)
            assert bench.evse.state == "matched" and bench.evse.attempts == 1
            again = await bench.ev.match()  # the matched car itself starts over: a new attempt, same key
            assert bench.evse.attempts == 2 and again.nmk == bench.evse.nmk
    asyncio.run(main())


def test_garbage_and_other_chargers_frames_are_ignored():
    async def main():
        async with Bench() as bench:
            await bench.until_state("waiting")
            bench.rig_link.send(bytes(6) + RIG_MAC + b"\x88\xe1\x01")  # truncated management header
            other = hp.SlacParmCnf(forwarding_sta=EV_MAC, run_id=b"OTHERRUN")
            bench.rig_link.send(hp.build_frame(EVSE_MAC, RIG_MAC, other))
            await bench.ev.match()
            await asyncio.wait_for(bench.evse.matched.wait(), 2.0)
            assert bench.evse.attempts == 1
    asyncio.run(main())
