"""CommunicationSetup from plug-in (20 s to SessionSetupReq): when it runs out, CP F for
communication_restart_f_s, then 5 % again, a bounded number of times, then COMMUNICATION_FAILED (issue 15).
No port sits at 5 % for ever after a refused SDP answer or a failed handshake."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.v2g.messages import appproto
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)

ISO20 = appproto.AppProtocol(ProtocolNamespace="urn:iso:std:iso:15118:-20:DC", VersionNumberMajor=1,
                             VersionNumberMinor=0, SchemaID=1, Priority=1)


def run_for(bench: Bench, seconds: float) -> list[tuple[float, float, bool]]:
    """Tick the connector for `seconds` (20 ms steps, the board echoing CP F); (t, pwm, state F) per change."""
    seen, t = [], 0.0
    for _ in range(round(seconds / 0.02)):
        bench.settle(1)
        t += 0.02
        sample = (bench.board.pwm, bench.board.state_f)
        if not seen or seen[-1][1:] != sample:
            seen.append((round(t, 2), *sample))
    return seen


def test_no_session_setup_restarts_from_plug_in_then_gives_up():
    async def go():
        bench = Bench()
        bench.conn.charging = replace(bench.conn.charging, communication_attempts=3, communication_restart_f_s=4.0)
        assert bench.conn.state == "plugged" and bench.board.pwm == 5.0
        return bench, run_for(bench, 75.0)
    bench, changes = asyncio.run(go())
    f_starts = [t for t, pwm, f in changes if f]
    assert f_starts and 19.9 <= f_starts[0] <= 20.1, changes  # 20 s after plug-in, not after a TCP connect
    assert len(f_starts) == 2 and 23.9 <= f_starts[1] - f_starts[0] <= 24.1, changes  # F 4 s, then 20 s again
    assert "COMMUNICATION_FAILED" in bench.conn.active_faults and bench.board.pwm != 5.0
    assert bench.conn.state != "plugged"


def test_a_session_setup_in_time_stops_the_timer():
    async def go():
        bench = Bench()
        run_for(bench, 19.0)
        await bench.open_session()
        return bench, run_for(bench, 30.0)
    bench, changes = asyncio.run(go())
    assert not any(f for _, _, f in changes) and "COMMUNICATION_FAILED" not in bench.conn.active_faults


def test_a_car_offering_only_iso20_is_refused_and_the_port_does_not_stay_at_5_percent():
    async def go():
        bench = Bench("iso2")
        answer = await bench.handshake(ISO20)
        await asyncio.sleep(0)
        return bench, answer, run_for(bench, 20.5)
    bench, answer, changes = asyncio.run(go())
    assert answer.ResponseCode.value == "Failed_NoNegotiation" and bench.connection.closed
    assert any(f for _, _, f in changes), "the port stayed at 5 % after a failed handshake"
