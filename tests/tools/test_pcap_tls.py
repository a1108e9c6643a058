"""`charger-v2g pcap` on a TLS session the rig's recorder wrote: decrypted with the key log beside the capture
(FILE.tls-keys) or named with --tls-keys; without one it says which connection it could not read."""
from __future__ import annotations

import json
import time

import pytest

from controller.formats.v2g import v2gtp
from hil.ev.evcc.recorder import V2gPcapRecorder
from tests.formats.test_tls12_capture import _session
from tests.tools.test_v2g_cli import HANDSHAKE_REQ, HANDSHAKE_RES, run

pytestmark = pytest.mark.timeout(60)


def _recorded(tmp_path):
    frames = [(v2gtp.build_frame(v2gtp.PAYLOAD_EXI, HANDSHAKE_REQ), v2gtp.build_frame(v2gtp.PAYLOAD_EXI,
                                                                                     HANDSHAKE_RES))]
    wire, _ = _session(tmp_path, frames)
    pcap = tmp_path / "session.pcap"
    recorder = V2gPcapRecorder(str(pcap))
    stream = recorder.stream(1)
    t = time.time()
    stream.sdp(v2gtp.SdpRequest(v2gtp.SDP_SECURITY_TLS), v2gtp.SdpResponse(bytes(15) + b"\x01", 50001,
                                                                           v2gtp.SDP_SECURITY_TLS), t, t + 0.01)
    stream.connected(t + 0.02)
    for index, (from_client, data) in enumerate(wire):
        stream.wire(t + 0.03 + index * 0.001, "ev" if from_client else "secc", data)
    recorder.close()
    return pcap, tmp_path / "keys.log"


def test_the_key_log_beside_the_capture_is_used(tmp_path, capsys):
    pcap, key_log = _recorded(tmp_path)
    pcap.with_name(pcap.name + ".tls-keys").write_bytes(key_log.read_bytes())
    status, out, err = run(capsys, "pcap", str(pcap), "--json")
    assert (status, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["type"], r["from_ev"]) for r in records] == [
        ("SdpRequest", True), ("SdpResponse", False),
        ("supportedAppProtocolReq", True), ("supportedAppProtocolRes", False)]


def test_tls_keys_names_the_key_log_and_without_one_the_connection_is_reported(tmp_path, capsys):
    pcap, key_log = _recorded(tmp_path)
    status, out, _ = run(capsys, "pcap", str(pcap))
    assert status == 0 and "supportedAppProtocolReq" not in out
    assert "TLS connection (tcp 0) not decrypted: no key for this TLS session in the key log" in out
    status, out, _ = run(capsys, "pcap", str(pcap), "--tls-keys", str(key_log))
    assert status == 0 and "supportedAppProtocolRes" in out and "not decrypted" not in out


def test_an_unreadable_key_log_is_one_line_exit_2(tmp_path, capsys):
    pcap, _ = _recorded(tmp_path)
    status, out, err = run(capsys, "pcap", str(pcap), "--tls-keys", str(tmp_path / "missing.log"))
    assert status == 2 and out == "" and err.startswith("charger-v2g: cannot read the TLS key log ")
    assert len(err.strip().splitlines()) == 1
