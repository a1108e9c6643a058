"""The SECC of one connector on real sockets (::1): it follows the connector's plug and unplug, and a
connection that goes quiet or away in the middle of a session stops the connector (EV_TIMEOUT)."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.v2g import exi
from controller.formats.events import V2gClosed
from controller.v2g.ethernet import MemoryLink
from controller.formats.v2g.messages import appproto
from controller.v2g.secc.session import SeccSettings
from controller.v2g.secc.station import SeccStation
from controller.v2g.secc_link import open_secc_sockets
from hil.ev.v2gtp_client import V2gtpClient, V2gtpClientError
from tests.v2g.test_secc_session import DIN, Bench

pytestmark = pytest.mark.timeout(30)


async def _station(bench: Bench, sequence_timeout_s: float = 60.0, events: list | None = None) -> SeccStation:
    frames, _ = MemoryLink.pair(bytes.fromhex("020000000001"), bytes.fromhex("020000000002"))
    sockets = open_secc_sockets(None, frames=frames, sdp_port=0)
    station = SeccStation(bench.conn, sockets, SeccSettings(offer=bench.session.settings.offer),
                          sequence_timeout_s=sequence_timeout_s,
                          on_event=None if events is None else events.append)
    await station.start()
    return station


async def _open(bench: Bench, station: SeccStation) -> V2gtpClient:
    client = await V2gtpClient.connect(("::1", station.link.v2gtp.port))
    await client.request(exi.encode("appproto", appproto.SupportedAppProtocolReq(AppProtocol=[DIN])))
    name, body = bench.car.session_setup(evcc_id="0465650064c3")
    answer = exi.decode("din", await client.request(exi.encode("din", bench.car.message(name, body))))
    assert answer.Body.SessionSetupRes.ResponseCode.value == "OK_NewSessionEstablished"
    return client


def test_silence_in_a_session_closes_it_and_stops_the_connector():
    async def go():
        bench = Bench()
        station = await _station(bench, sequence_timeout_s=0.2)
        try:
            client = await _open(bench, station)
            await asyncio.sleep(0.5)
            with pytest.raises(V2gtpClientError):
                await client.request(b"\x80\x98", timeout_s=0.5)
            await client.close()
        finally:
            await station.close()
        return bench
    bench = asyncio.run(go())
    assert "EV_TIMEOUT" in bench.conn.active_faults and bench.conn.state == "error_shutdown"
    assert bench.conn.active_faults["EV_TIMEOUT"].detail.startswith("V2G connection ended: no request")


def test_connection_lost_in_a_session_stops_the_connector():
    async def go():
        bench = Bench()
        station = await _station(bench)
        try:
            client = await _open(bench, station)
            await client.close()
            await asyncio.sleep(0.2)
        finally:
            await station.close()
        return bench
    bench = asyncio.run(go())
    assert "EV_TIMEOUT" in bench.conn.active_faults


def test_unplug_ends_the_v2g_connection_without_a_fault():
    async def go():
        bench, events = Bench(), []
        station = await _station(bench, events=events)
        bench.conn._emit = station.on_connector_event  # the app's event sinks, in short
        try:
            client = await _open(bench, station)
            bench.cp("A")
            await asyncio.sleep(0.1)
            await client.close()
        finally:
            await station.close()
        return bench, events
    bench, events = asyncio.run(go())
    closed = [e for e in events if isinstance(e, V2gClosed)]
    assert [(c.connector, c.reason) for c in closed] == [(1, "unplugged")]
    # every answered request is timed from its bytes in to the answer's bytes out, per request type
    times = closed[0].answer_times
    assert set(times) == set(closed[0].answer_us) and "supportedAppProtocolReq" in times
    for name, summary in times.items():
        samples = closed[0].answer_us[name]
        assert summary["count"] == len(samples) >= 1
        assert summary["max_ms"] == max(samples) / 1000.0 and summary["median_ms"] <= summary["p99_ms"]
    assert bench.conn.state == "available" and bench.conn.active_faults == {}
