"""charger-hil replay on the shared captures of real cars: every request answered, none FAILED, none late."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hil.__main__ import main
from hil.replay import ReplayError, car_requests, replay_capture
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
NAMES = ["2022-12-13_compleo_with_bulb", "2023-05-24_pyPlc_with_Ioniq93prcSoc",
         "2024-04-20_ModelY_pyPLC_stop_in_precharge",
         "2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop"]


def _capture(name: str) -> Path:
    path = CAPTURES / f"{name}.pcapng"
    if not path.is_file():
        pytest.skip(f"shared captures not found at {CAPTURES} (../shared is missing)")
    return path


@pytest.mark.parametrize("name", NAMES)
def test_replay_passes_on_each_shared_capture(name):
    path = _capture(name)
    report = asyncio.run(replay_capture(path, load_setup("desk"), speed=4.0))
    data = report.to_json()
    assert report.passed, data["problems"] or data["error"]
    sent = [s.request for s in report.steps]
    assert sent[0] == "supportedAppProtocolReq" and sent[1] == "SessionSetupReq"
    assert set(sent) == {m.type for m in car_requests(path)}
    assert all(s.code and not s.code.startswith("FAILED") for s in report.steps)
    if "CurrentDemandReq" in sent:
        assert data["current_demand_ms"]["count"] >= 50


def test_replay_cli_writes_a_report_and_exits_0(tmp_path):
    path = _capture("2024-04-20_ModelY_pyPLC_stop_in_precharge")
    out = tmp_path / "replay.json"
    assert main(["replay", str(path), "--report", str(out), "--speed", "4"]) == 0
    assert '"passed": true' in out.read_text()


def test_replay_refuses_a_file_that_is_not_a_capture(tmp_path, capsys):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    with pytest.raises(ReplayError, match="not a pcap"):
        car_requests(bad)
    assert main(["replay", str(bad)]) == 2
    assert "not a pcap" in capsys.readouterr().out
