"""The rig's Ethernet ends (hil/wires/ethernet.py) and their hand-over to an in-process controller."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.v2g import slac_messages as hp
from controller.v2g.ethernet import LinkClosed
from hil.controller_handle import secc_frame_end
from hil.wires.ethernet import MAX_QUEUED_FRAMES, HomePlugReader, WireClosed, memory_cable

pytestmark = pytest.mark.timeout(10)
A, B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def _slac_parm(source: bytes) -> bytes:
    return hp.build_frame(hp.BROADCAST_MAC, source, hp.SlacParmReq(run_id=b"\x01" * 8))


def test_what_one_end_sends_the_other_receives_and_a_closed_end_says_so():
    async def main():
        a, b = memory_cable(A, B)
        a.send(_slac_parm(A))
        assert hp.parse_frame(await b.receive()).source == A
        waiting = asyncio.create_task(b.receive())
        await asyncio.sleep(0)
        b.close()
        with pytest.raises(WireClosed):
            await waiting
        with pytest.raises(WireClosed):
            b.send(_slac_parm(B))
        a.send(_slac_parm(A))  # into a closed far end: lost, as into a switched-off modem
        with pytest.raises(ValueError, match="at least 14 bytes"):
            a.send(b"short")
    asyncio.run(main())


def test_a_flood_is_dropped_past_the_queue_limit():
    async def main():
        a, b = memory_cable(A, B)
        for _ in range(MAX_QUEUED_FRAMES + 5):
            a.send(_slac_parm(A))
        assert b.dropped == 5
    asyncio.run(main())


def test_the_homeplug_reader_skips_own_and_malformed_frames_and_keeps_its_deadline():
    async def main():
        a, b = memory_cable(A, B)
        reader = HomePlugReader(b)
        reader.start()
        a.send(bytes(14))  # an Ethernet header and nothing HomePlug in it
        b_own = _slac_parm(B)
        a.send(b_own)      # claims to come from the reader's own station
        a.send(_slac_parm(A))
        loop = asyncio.get_running_loop()
        frame = await reader.next(loop.time() + 1.0)
        assert frame is not None and frame.source == A and reader.malformed == 1
        assert await reader.next(reader.clock() + 0.05) is None
        b.close()
        with pytest.raises(WireClosed):
            await reader.next(None)
        await reader.close()
    asyncio.run(main())


def test_the_controller_sees_its_own_link_closed_when_the_rig_closes_the_cable():
    async def main():
        secc, rig = memory_cable(A, B)
        handed = secc_frame_end(secc)
        assert handed.mac == A
        rig.send(_slac_parm(B))
        assert hp.parse_frame(await handed.receive()).source == B
        handed.close()
        with pytest.raises(LinkClosed):
            await handed.receive()
        with pytest.raises(LinkClosed):
            handed.send(_slac_parm(A))
    asyncio.run(main())
