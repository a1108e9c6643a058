"""The RFID reader's line protocol and its driver on a pty with the rig's reader simulator."""
from __future__ import annotations

import asyncio
import logging

import pytest

from controller.formats.cabinet.config import ConfigError, parse_config
from controller.formats.cabinet.rfid_reader import RfidReaderConfig
from controller.formats.rfid_line import RfidLineRejected, checksum, encode, parse
from controller.hw.rfid_reader import RfidReader
from hil.setup import cabinet_path
from hil.sim.rfid_reader import RfidReaderSim
from tests import polling

pytestmark = pytest.mark.timeout(20)


def test_a_line_round_trips_with_its_checksum():
    line = encode("04A1B2C3")
    assert line.startswith(b"TOKEN ISO14443 04A1B2C3*") and line.endswith(b"\n")
    assert int(line[-3:-1], 16) == checksum(b"TOKEN ISO14443 04A1B2C3")
    assert parse(line[:-1]) == ("04A1B2C3", "ISO14443")
    assert parse(line[:-1] + b"\r") == ("04A1B2C3", "ISO14443")  # CR LF readers
    assert parse(encode("12345", "KeyCode")[:-1]) == ("12345", "KeyCode")


def _signed(body: bytes) -> bytes:
    return body + b"*%02X" % checksum(body)


@pytest.mark.parametrize("line,reason", [
    (b"TOKEN ISO14443 04A1B2C3", "no checksum"),
    (b"TOKEN ISO14443 04A1B2C3*00", "checksum mismatch (line says 00, computed "),
    (b"TOKEN ISO14443 04A1B2C3*G1", "is not two hex digits"),
    (_signed(b"HELLO 1.2"), "unknown message 'HELLO'"),
    (_signed(b"TOKEN ISO14443"), "TOKEN needs a type and an id"),
    (_signed(b"TOKEN Bank 04A1B2C3"), "token type 'Bank' is not one of"),
    (_signed(b"TOKEN ISO14443 04a1b2c3"), "UID is 4, 7, 8 or 10 bytes in upper-case hex"),
    (_signed(b"TOKEN ISO14443 04A1B2"), "UID is 4, 7, 8 or 10 bytes"),
    (_signed(b"TOKEN KeyCode 12AB"), "a KeyCode is 1 to 20 digits"),
    (b"TOKEN \x00 x*00", "not printable ASCII"),
    (b"T" * 81, "line too long"),
])
def test_bad_lines_are_rejected_with_a_reason(line, reason):
    with pytest.raises(RfidLineRejected, match=None) as caught:
        parse(line)
    assert reason in str(caught.value)


def test_the_driver_reads_cards_rejects_bad_lines_and_ignores_a_card_left_on_it(caplog):
    async def scenario():
        sim = RfidReaderSim()
        got = []
        reader = RfidReader(RfidReaderConfig(port=sim.port, repeat_ignore_s=0.5), 2,
                            lambda token, cid: got.append((token, cid)))
        await reader.start()
        try:
            await polling.until(lambda: reader.is_open, "the port open", timeout_s=5)
            sim.show("04A1B2C3")
            sim.send(b"TOKEN ISO14443 0BADCAFE*00\r\n")  # a corrupted line
            sim.send(b"noise" * 40 + b"\n")  # far too long
            sim.show("04A1B2C3")  # the card still lies on the reader
            sim.show("04A1B2C3000000", "ISO14443")
            await polling.until(lambda: len(got) == 2 and len(reader.rejected) == 2, "two cards, two rejections",
                                timeout_s=5)
            await asyncio.sleep(0.6)
            sim.show("04A1B2C3")  # shown again later: a new tap
            await polling.until(lambda: len(got) == 3, "the card again", timeout_s=5)
        finally:
            await reader.close()
            sim.close()
        return got, reader.rejected

    with caplog.at_level(logging.WARNING, logger="controller.hw.rfid_reader"):
        got, rejected = asyncio.run(scenario())
    assert got == [({"idToken": "04A1B2C3", "type": "ISO14443"}, 2),
                   ({"idToken": "04A1B2C3000000", "type": "ISO14443"}, 2),
                   ({"idToken": "04A1B2C3", "type": "ISO14443"}, 2)]
    assert rejected[0].startswith("checksum mismatch") and rejected[1].startswith("line too long")
    assert "line rejected: checksum mismatch" in caplog.text


def test_a_missing_port_is_retried_without_stopping_anything(caplog):
    async def scenario():
        reader = RfidReader(RfidReaderConfig(port="/nonexistent/ttyRFID"), None, lambda token, cid: None)
        await reader.start()
        await asyncio.sleep(0.2)
        running = not reader._task.done()
        await reader.close()
        return running

    with caplog.at_level(logging.WARNING, logger="controller.hw.rfid_reader"):
        assert asyncio.run(scenario())
    assert "cannot open" in caplog.text


def test_reader_config_per_connector_or_cabinet():
    text = cabinet_path("desk").read_text()
    cfg = parse_config(text, overrides=('rfid.port="/dev/ttyUSB0"', 'connectors[0].rfid.port="/dev/ttyUSB1"'))
    assert cfg.rfid.port == "/dev/ttyUSB0" and cfg.rfid.baudrate == 9600
    assert cfg.connectors[0].rfid.port == "/dev/ttyUSB1"
    with pytest.raises(ConfigError, match="two card readers on one serial port"):
        parse_config(text, overrides=('rfid.port="/dev/ttyUSB0"', 'connectors[0].rfid.port="/dev/ttyUSB0"'))
    with pytest.raises(ConfigError, match="rfid.baudrate"):
        parse_config(text, overrides=('rfid.port="/dev/ttyUSB0"', "rfid.baudrate=0"))


def test_the_documented_example_is_valid():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rfid-reader-protocol.md").read_text()
    example = doc.split("Example: `", 1)[1].split("`", 1)[0]
    assert parse(example.encode()) == ("04A1B2C3", "ISO14443")
