"""charger-hil replay on the shared captures of real cars (DIN and ISO 15118-2): every session of a capture is
replayed, every request answered, none FAILED, none late, no fault (the end of a capture is not a car
timeout); what cannot be replayed is listed, and a capture with nothing to replay fails."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.formats.v2g import slac_messages
from hil.__main__ import main
from hil.ev.evcc.recorder import V2gPcapRecorder
from hil.replay import ReplayError, capture_sessions, replay_capture
from hil.setup import load_setup
from controller.formats.capture.dissect import dissect_file
from controller.formats.capture.pcap import PcapWriter

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT.parent / "shared" / "captures"
SPEED = 4.0  # as fast as the answers stay far inside the car timeouts on a loaded CI machine
# (file, rig setup, sessions): the Taycan is an 800 V car, beyond the desk cabinet's 500 V.
CASES = [
    ("2022-12-13_compleo_with_bulb.pcapng", "desk", 1),
    ("2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng", "desk", 1),
    ("2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng", "desk", 1),
    ("2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop.pcapng", "desk", 1),
    ("Tesla_Model_Y_11.1_din_spec_70121_2023-01-18-tesla_y_dinspec_infypower_teslay_dc_infy_0.pcap", "desk", 1),
    ("iso2/VW_id.3_iso_15118-2_DC_2023-04-14_1244-2_config-dc-iso2.pcap", "desk", 1),
    ("iso2/Porsche_Taycan_4S_iso-15118-2-DC_2023-04-11_0929-taycan-iso-2-DC.pcap", "nevi", 1),
    ("iso2/MG_MG4_electric_iso-2-DC.pcap", "desk", 2),
]


def _capture(name: str) -> Path:
    path = CAPTURES / name
    if not path.is_file():
        pytest.skip(f"shared captures not found at {CAPTURES} (../shared is missing)")
    return path


@pytest.mark.parametrize(("name", "setup", "sessions"), CASES, ids=[c[0].split("_")[0] for c in CASES])
def test_replay_passes_on_each_shared_capture(name, setup, sessions):
    path = _capture(name)
    captured, _ = capture_sessions(path)
    report = asyncio.run(replay_capture(path, load_setup(setup), speed=SPEED))
    data = report.to_json()
    assert report.passed, data["problems"] or data["faults"] or data["error"]
    assert not report.faults  # no EV_TIMEOUT when the capture simply ends
    assert len(report.sessions) == len(captured) == sessions
    for replayed, original in zip(report.sessions, captured):
        sent = [s.request for s in replayed.steps]
        assert sent[:2] == ["supportedAppProtocolReq", "SessionSetupReq"]
        assert set(sent[1:]) == {m.type for m in original.requests}
        assert replayed.schema == original.schema and replayed.ending
        assert all(s.code and not s.code.startswith("FAILED") for s in replayed.steps)
        captured_demands = sum(m.type == "CurrentDemandReq" for m in original.requests)
        assert sent.count("CurrentDemandReq") >= captured_demands


def _rig_pcap(path: Path) -> Path:
    """A two-connector pcap as the rig's --pcap writes it: a DIN car on connector 1, an ISO-2 car on 2."""
    recorder = V2gPcapRecorder(str(path))
    sources = {1: _capture("2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"),
               2: _capture("iso2/VW_id.3_iso_15118-2_DC_2023-04-14_1244-2_config-dc-iso2.pcap")}
    for cid, source in sources.items():
        from controller.formats.v2g import v2gtp

        stream = recorder.stream(cid)
        t0 = 1_700_000_000.0 + cid * 0.5
        stream.sdp(v2gtp.SdpRequest(v2gtp.SDP_SECURITY_NONE),
                   v2gtp.SdpResponse(bytes.fromhex(f"fe80{'00' * 13}{cid:02x}"), 61000 + cid), t0, t0 + 0.01)
        stream.connected(t0 + 0.02)
        v2g = [m for m in dissect_file(source) if m.protocol == "V2G"]
        for request, answer in zip(v2g[::2], v2g[1::2]):
            assert request.from_ev and not answer.from_ev
            stream.exchange(request.payload, t0 + request.t / 100, answer.payload, t0 + answer.t / 100)
    recorder.close()
    return path


def test_a_multi_connector_rig_pcap_replays_every_connectors_session(tmp_path):
    path = _rig_pcap(tmp_path / "rig.pcap")
    report = asyncio.run(replay_capture(path, load_setup("desk"), speed=SPEED))
    assert report.passed, report.to_json()["problems"] or report.faults or report.error
    assert [s.schema for s in report.sessions] == ["din", "iso2"]
    assert all(len(s.steps) > 20 for s in report.sessions)


@pytest.mark.timeout(240)
def test_the_rigs_own_pcap_of_a_four_connector_run_replays_all_four_sessions(tmp_path, capsys):
    pcap = tmp_path / "nevi.pcap"
    assert main(["run", "--scenario", "dc-session", "--setup", "nevi", "--protocol", "iso2", "--quiet",
                 "--pcap", str(pcap)]) == 0
    capsys.readouterr()
    report = asyncio.run(replay_capture(pcap, load_setup("nevi"), speed=SPEED))
    assert report.passed, report.to_json()["problems"] or report.faults or report.error
    assert [(s.schema, s.ending) for s in report.sessions] == [("iso2", "SessionStop")] * 4
    assert sorted(s.tcp_stream for s in report.sessions) == [0, 1, 2, 3] and not report.skipped


def _write(path: Path, frames: list[bytes]) -> Path:
    with path.open("wb") as stream:
        writer = PcapWriter(stream)
        for index, frame in enumerate(frames):
            writer.write(1_700_000_000_000_000_000 + index * 1_000_000, frame)
    return path


def test_a_capture_without_a_v2g_session_fails_and_says_why(tmp_path, capsys):
    car = bytes.fromhex("0a0000000001")
    slac_only = _write(tmp_path / "slac.pcap", [slac_messages.build_frame(
        slac_messages.BROADCAST_MAC, car, slac_messages.SlacParmReq(run_id=b"NOV2G001"))])
    report = asyncio.run(replay_capture(slac_only, load_setup("desk")))
    assert not report.passed and not report.sessions
    assert "nothing to replay" in report.error
    assert report.skipped == ["no V2G (TCP) connection in the capture"]
    assert main(["replay", str(slac_only)]) == 1
    out = capsys.readouterr().out
    assert "verdict      FAILED" in out and "skipped      no V2G (TCP) connection" in out


def test_a_connection_caught_mid_session_is_skipped_with_the_reason(tmp_path):
    source = _capture("2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
    recorder = V2gPcapRecorder(str(tmp_path / "late.pcap"))
    stream = recorder.stream(1)
    stream.connected(1_700_000_000.0)
    v2g = [m for m in dissect_file(source) if m.protocol == "V2G"][2:]  # the handshake left out
    for request, answer in zip(v2g[::2], v2g[1::2]):
        stream.exchange(request.payload, 1_700_000_000.1 + request.t / 100, answer.payload,
                        1_700_000_000.1 + answer.t / 100)
    recorder.close()
    sessions, skipped = capture_sessions(tmp_path / "late.pcap")
    assert sessions == []
    assert skipped == ["tcp 0: does not start with the car's AppProtocol handshake (caught mid-session)"]


def test_replay_cli_writes_a_report_and_exits_0(tmp_path):
    path = _capture("2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng")
    out = tmp_path / "replay.json"
    assert main(["replay", str(path), "--report", str(out), "--speed", "8"]) == 0
    data = json.loads(out.read_text())
    assert data["passed"] is True and data["sessions"][0]["ending"] == "SessionStop"


def test_replay_refuses_a_file_that_is_not_a_capture(tmp_path, capsys):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    with pytest.raises(ReplayError, match="not a pcap"):
        capture_sessions(bad)
    assert main(["replay", str(bad)]) == 2
    assert "not a pcap" in capsys.readouterr().out


@pytest.mark.timeout(240)
def test_ctrl_c_during_a_replay_stops_cleanly_and_writes_what_was_replayed(tmp_path):
    capture = _capture("iso2/Porsche_Taycan_4S_iso-15118-2-DC_2023-04-11_0929-taycan-iso-2-DC.pcap")
    report = tmp_path / "replay.json"
    proc = subprocess.Popen([sys.executable, "-m", "hil", "--log-level", "INFO", "replay", str(capture), "--setup",
                             "nevi", "--report", str(report)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # the controller's phase log: the car is charging at the captured pace
            if "connector 1: charging" in line:
                break
        else:
            pytest.fail(f"the replay ended before charging: {proc.communicate(timeout=30)}")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # the clean stop: car to B, unplug, controller and rig down
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert "verdict      FAILED" in out and "interrupted by SIGINT" in out
    data = json.loads(report.read_text())
    assert data["passed"] is False and "interrupted by SIGINT" in data["error"]
    assert data["requests"] > 0 and data["sessions"]
