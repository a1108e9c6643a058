"""The two link modes end to end: SECC link layer (controller) and the rig's car, from plug-in to a V2GTP echo."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from controller.formats.v2g import slac_messages as hp
from controller.v2g.ethernet import LinkClosed, MemoryLink, RawEthernetLink
from controller.v2g.secc_link import SeccLink, open_secc_sockets
from hil.controller_handle import open_secc_sockets as handed_over
from hil.ev.plc_connect import connect_over_plc
from hil.link.modes import SECC_MAC, VethLink, open_link
from hil.link.netns import NETNS_DIR, PLC_INTERFACE, remove_stale, run_in_netns, why_unavailable
from tests.v2g.veth_fixture import veth  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


class Echo:
    def __init__(self, connection):
        self.connection = connection

    async def on_message(self, payload: bytes) -> bytes:
        return payload


async def _session(link, open_sockets) -> dict:
    """Plug in, match, discover, connect, echo, unplug; returns what each side saw."""
    sockets = await link.secc.run(open_sockets)
    closed: list[str] = []
    secc = SeccLink(sockets, Echo, on_close=lambda connection, reason: closed.append(reason))
    await secc.start()
    secc.plugged()
    try:
        ev = await connect_over_plc(link.ev, sdp_port=secc.sdp.port)
        answer = await ev.client.request(b"\x80\x01\x02")
        seen = {"answer": answer, "ev": ev, "slac_state": secc.slac.state, "match": secc.slac.result,
                "joined": link.powerline.joined.is_set(), "modem_key": link.powerline.modem_key,
                "exchanges": list(secc.v2gtp.connection.exchanges), "peer": secc.v2gtp.connection.peer,
                "frames": sockets.frames}
        secc.unplugged()
        while not closed:
            await asyncio.sleep(0.01)
        seen["closed"], seen["slac_after_unplug"] = closed, secc.slac.state
        await ev.close()
    finally:
        await secc.close()
    return seen


def _check_common(seen: dict) -> None:
    ev = seen["ev"]
    assert seen["answer"] == b"\x80\x01\x02"
    assert seen["slac_state"] == "matched" and seen["joined"]
    assert (ev.slac.nid, ev.slac.nmk) == (seen["match"].nid, seen["match"].nmk) == seen["modem_key"]
    assert ev.slac.evse_mac == seen["frames"].mac and ev.sdp.requests_sent == 1
    assert len(seen["exchanges"]) == 1 and seen["exchanges"][0].answer_s is not None
    assert seen["closed"] == ["unplugged"] and seen["slac_after_unplug"] == "idle"


def test_a_session_over_the_loopback_link():
    async def main():
        link = await open_link("loopback", seed=3)
        try:
            return await _session(link, lambda: handed_over(None, frames=link.secc.frames, sdp_port=0))
        finally:
            await link.close()
    seen = asyncio.run(main())
    _check_common(seen)
    assert seen["ev"].sdp.host == "::1" and seen["peer"][0] == "::1"
    assert seen["frames"].mac == SECC_MAC  # the rig's cable end, handed over through hil.controller_handle


def test_a_session_over_the_veth_link(veth):  # noqa: F811 (the fixture only decides whether veth works here)
    async def main():
        link = await open_link("veth", seed=3)
        try:
            seen = await _session(link, lambda: open_secc_sockets(PLC_INTERFACE))
            seen["names"] = (link.pair.secc_ns, link.pair.ev_ns)
            seen["ev_address"] = link.pair.ev_address
            return seen
        finally:
            await link.close()
    seen = asyncio.run(main())
    _check_common(seen)
    assert isinstance(seen["frames"], RawEthernetLink)
    assert seen["ev"].sdp.host.startswith("fe80:") and seen["peer"][0] == seen["ev_address"]
    assert not any(os.path.exists(os.path.join(NETNS_DIR, name)) for name in seen["names"])


SECC_PROCESS = textwrap.dedent("""
    import asyncio, sys
    from controller.v2g.secc_link import SeccLink, open_secc_sockets

    class Echo:
        def __init__(self, connection): pass
        async def on_message(self, payload): return payload[::-1]

    async def main():
        secc = SeccLink(open_secc_sockets("plc0"), Echo)
        await secc.start()
        secc.plugged()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await secc.close()
    asyncio.run(main())
""")


def test_the_controller_side_as_a_separate_process_in_the_secc_namespace(veth):  # noqa: F811
    async def main():
        link = await VethLink(seed=5).open()
        secc = await asyncio.create_subprocess_exec(
            *link.secc.command_prefix(), sys.executable, "-c", SECC_PROCESS, cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert await asyncio.wait_for(secc.stdout.readline(), 20) == b"ready\n"
            ev = await connect_over_plc(link.ev)
            assert await ev.client.request(b"abc") == b"cba"
            await ev.close()
        finally:
            secc.stdin.close()
            await asyncio.wait_for(secc.wait(), 10)
            await link.close()
        assert secc.returncode == 0, (await secc.stderr.read()).decode()
    asyncio.run(main())


def test_an_unknown_link_mode_is_named():
    with pytest.raises(ValueError, match="unknown link mode 'plc'.*loopback, veth"):
        asyncio.run(open_link("plc"))


def test_memory_links_carry_frames_both_ways_and_closing_wakes_the_reader():
    async def main():
        a, b = MemoryLink.pair(bytes(6), b"\x02" * 6)
        frame = hp.build_frame(hp.BROADCAST_MAC, a.mac, hp.SlacParmReq(run_id=bytes(8)))
        a.send(frame)
        assert await b.receive() == frame
        with pytest.raises(ValueError, match="at least 14 bytes"):
            b.send(b"short")
        reader = asyncio.create_task(b.receive())
        await asyncio.sleep(0)
        b.close()
        with pytest.raises(LinkClosed):
            await reader
        with pytest.raises(LinkClosed):
            b.send(frame)
        a.send(frame)  # into a closed peer: lost, like a cable into a switched-off modem
    asyncio.run(main())


def test_raw_links_on_a_veth_pair_and_stale_namespaces_are_removed(veth):  # noqa: F811
    async def main():
        secc = await run_in_netns(veth.secc_ns, lambda: RawEthernetLink.open(PLC_INTERFACE))
        rig = await run_in_netns(veth.ev_ns, lambda: RawEthernetLink.open(PLC_INTERFACE))
        frame = hp.build_frame(rig.mac, secc.mac, hp.SlacParmReq(run_id=b"RUNID-01"))
        secc.send(frame)
        got = await asyncio.wait_for(rig.receive(), 2.0)
        reader = asyncio.create_task(rig.receive())
        await asyncio.sleep(0)
        rig.close()
        with pytest.raises(LinkClosed):
            await reader
        secc.close()
        return got, frame
    got, sent = asyncio.run(main())
    assert got == sent
    with pytest.raises(OSError, match="'nosuch0'"):
        asyncio.run(run_in_netns(veth.secc_ns, lambda: RawEthernetLink.open("nosuch0")))
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid now belongs to no process: the namespace's owner died
    name = f"v2g-{finished.pid}-abcdef-ev"
    subprocess.run(["ip", "netns", "add", name], check=True)
    assert name in remove_stale() and not os.path.exists(os.path.join(NETNS_DIR, name))


def test_a_killed_rig_leaves_no_namespaces_behind():
    reason = why_unavailable()
    if reason:
        pytest.skip(f"veth link tests skipped: {reason}")
    holder = subprocess.Popen(
        [sys.executable, "-c", "from hil.link.netns import VethPair; import sys, time; p = VethPair().create(); "
         "print(p.secc_ns, p.ev_ns, flush=True); time.sleep(60)"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    names = holder.stdout.readline().split()
    assert len(names) == 2 and all(os.path.exists(os.path.join(NETNS_DIR, n)) for n in names)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 10
    while any(os.path.exists(os.path.join(NETNS_DIR, n)) for n in names) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(os.path.exists(os.path.join(NETNS_DIR, n)) for n in names)
