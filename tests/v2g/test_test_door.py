"""The JSON EV link is gone; the only way to a connector without SLAC is the V2G test door, which is off by
default, serves ::1 only, and never runs SLAC."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from controller.formats.cabinet.config import ConfigError, V2gConfig, load_config, parse_config
from controller.v2g.secc_link import SeccLink, open_test_door_sockets

pytestmark = pytest.mark.timeout(20)
DESK = Path(__file__).resolve().parents[2] / "hil/setups/desk/cabinet.toml"


def test_the_test_door_is_off_by_default():
    assert V2gConfig().test_door_direct_tcp is False
    assert load_config(DESK).v2g.test_door_direct_tcp is False


def test_an_old_cabinet_file_with_ev_link_gets_one_clear_error():
    with pytest.raises(ConfigError) as err:
        parse_config(DESK.read_text() + "\n[ev_link]\nbase_port = 47100\n")
    assert err.value.key == "ev_link" and "removed" in err.value.reason and "[v2g]" in err.value.reason


def test_the_controller_refuses_an_old_cabinet_file_in_one_line(tmp_path):
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(DESK.read_text() + "\n[ev_link]\nbase_port = 47100\n")
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(cabinet)], capture_output=True,
                          text=True, timeout=15, cwd=DESK.parents[3])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["charger-controller: config error at 'ev_link': removed: the stand-in JSON "
                                        "EV link is gone; cars reach the connector over V2G ([v2g])"]


def test_the_test_door_refuses_a_plc_interface():
    with pytest.raises(ConfigError) as err:
        parse_config(DESK.read_text(), overrides=("v2g.enabled=true", "v2g.test_door_direct_tcp=true",
                                                  'v2g.interfaces=["eth1"]'))
    assert err.value.key == "v2g.test_door_direct_tcp"


def test_the_test_door_listens_on_loopback_only_and_runs_no_slac():
    async def run():
        sockets = open_test_door_sockets()
        assert sockets.frames is None and sockets.address == "::1"
        assert sockets.sdp.getsockname()[0] == "::1" and sockets.tcp.getsockname()[0] == "::1"
        link = SeccLink(sockets, lambda connection: None)
        try:
            await link.start()
            assert link.slac is None
            link.plugged()  # no SLAC to start: nothing may fail later and restart communication
            link.unplugged()
        finally:
            await link.close()
    asyncio.run(run())


def test_the_rig_finds_each_door_where_the_controller_says():
    from hil.ev.evcc.rig_link import RigV2gLink
    external = RigV2gLink("din", [1, 2, 3], external_sdp=("::1", 47100))
    assert external.mode == "direct" and [external.sdp_target(c) for c in (1, 3)] == [("::1", 47100), ("::1", 47102)]
    announced: dict[int, dict] = {}
    child = RigV2gLink("din", [1], separate_process=True, announced=announced)
    assert "v2g.test_door_direct_tcp=true" in child.controller_overrides()
    with pytest.raises(RuntimeError, match="has not announced its SECC"):
        child.car_link(1)
    announced[1] = {"connector": 1, "address": "::1", "sdp_port": 50123, "tcp_port": 50124}  # its `secc` event
    assert child.sdp_target(1) == ("::1", 50123)
    assert RigV2gLink("din", [1], "veth", separate_process=True).mode == "veth"  # a powerline: SLAC as always
