"""`charger-v2g pcap` on HomePlug AV frames: one line per frame, and a broken one says why instead of failing."""
from __future__ import annotations

import io
import json
import struct

import pytest

from controller.formats.v2g import slac_messages as hp
from controller.formats.capture.pcap import PcapWriter
from tools.v2g_cli import main

pytestmark = pytest.mark.timeout(30)

EV_MAC, EVSE_MAC = bytes.fromhex("0a0000000001"), bytes.fromhex("0a0000000002")
HOMEPLUG = struct.pack(">H", hp.ETHERTYPE_HOMEPLUG)


def _capture(tmp_path, frames: list[bytes]):
    stream = io.BytesIO()
    writer = PcapWriter(stream)
    for index, frame in enumerate(frames):
        writer.write(1_700_000_000_000_000_000 + index * 1_000_000, frame)
    path = tmp_path / "slac.pcap"
    path.write_bytes(stream.getvalue())
    return path


def _good() -> bytes:
    return hp.build_frame(hp.BROADCAST_MAC, EV_MAC, hp.SlacParmReq(run_id=b"RUN00001"))


def _atten_char() -> bytes:
    return hp.build_frame(EV_MAC, EVSE_MAC, hp.AttenCharInd(run_id=b"RUN00001", source_address=EV_MAC,
                                                            num_sounds=10, attenuation=(20,) * 58))


BROKEN = [
    # (frame, type shown, from_ev, words of the reason)
    (hp.BROADCAST_MAC + EV_MAC + HOMEPLUG + b"\x01", "HomePlugError", None, "needs 3 bytes, got 1"),
    (EVSE_MAC + EV_MAC + HOMEPLUG + b"\x01\x64\x60", "CM_SLAC_PARM.REQ", True, "before the fragment field"),
    (EVSE_MAC + EV_MAC + HOMEPLUG + b"\x01\x64\x60\x00\x00\x00\x00", "CM_SLAC_PARM.REQ", True, "body needs"),
    (_atten_char()[:-40], "CM_ATTEN_CHAR.IND", False, "attenuation groups truncated"),  # 18 of 58 groups
]


@pytest.mark.parametrize(("frame", "name", "from_ev", "reason"), BROKEN, ids=[case[3] for case in BROKEN])
def test_a_broken_homeplug_frame_is_one_entry_with_the_reason(tmp_path, capsys, frame, name, from_ev, reason):
    path = _capture(tmp_path, [frame, _good()])
    assert main(["pcap", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    broken, good = (json.loads(line) for line in captured.out.splitlines())
    assert (broken["schema"], broken["type"], broken["from_ev"]) == ("slac", name, from_ev)
    assert broken["error"].startswith("malformed HomePlug frame:") and reason in broken["error"]
    assert (good["type"], "error" in good) == ("CM_SLAC_PARM.REQ", False)  # the next frame is read as usual
    assert captured.err == ""


def test_the_table_line_of_a_broken_frame_says_why(tmp_path, capsys):
    path = _capture(tmp_path, [frame for frame, *_ in BROKEN] + [_good()])
    assert main(["pcap", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert len(lines) == len(BROKEN) + 1
    assert all("SLAC" in line and "error: malformed HomePlug frame:" in line for line in lines[:-1])
    assert "RunID=RUN00001" in lines[-1]


def test_every_slac_message_of_a_match_is_named(tmp_path, capsys):
    messages = [
        (EV_MAC, hp.BROADCAST_MAC, hp.SlacParmReq(run_id=b"RUN00001")),
        (EVSE_MAC, EV_MAC, hp.SlacParmCnf(run_id=b"RUN00001", forwarding_sta=EV_MAC)),
        (EV_MAC, hp.BROADCAST_MAC, hp.StartAttenCharInd(run_id=b"RUN00001", forwarding_sta=EV_MAC)),
        (EV_MAC, hp.BROADCAST_MAC, hp.MnbcSoundInd(run_id=b"RUN00001", count=9)),
        (bytes.fromhex("02b052000001"), EVSE_MAC, hp.AttenProfileInd(pev_mac=EV_MAC, attenuation=(20,) * 58)),
        (EVSE_MAC, EV_MAC, hp.AttenCharInd(run_id=b"RUN00001", source_address=EV_MAC, num_sounds=10,
                                           attenuation=(20,) * 58)),
        (EV_MAC, EVSE_MAC, hp.AttenCharRsp(run_id=b"RUN00001", source_address=EV_MAC)),
        (EV_MAC, EVSE_MAC, hp.SlacMatchReq(run_id=b"RUN00001", pev_mac=EV_MAC, evse_mac=EVSE_MAC)),
        (EVSE_MAC, EV_MAC, hp.SlacMatchCnf(run_id=b"RUN00001", pev_mac=EV_MAC, evse_mac=EVSE_MAC,
                                           nid=b"\x01" * 7, nmk=b"\x02" * 16)),
        (EVSE_MAC, bytes.fromhex("00b052000001"), hp.SetKeyReq(nid=b"\x01" * 7, new_key=b"\x02" * 16)),
        (bytes.fromhex("02b052000001"), EVSE_MAC, hp.SetKeyCnf(result=0)),
    ]
    path = _capture(tmp_path, [hp.build_frame(destination, source, message)
                               for source, destination, message in messages])
    assert main(["pcap", str(path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["schema"], r["type"]) for r in records] == [("slac", m.name) for _, _, m in messages]
    assert [r["from_ev"] for r in records] == [True, False, True, True, None, False, True, True, False, None, None]
    assert not [r for r in records if "error" in r or "tcp_stream" in r]
