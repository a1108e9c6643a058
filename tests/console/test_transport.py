"""The console's wire: garbage input, bounded input and output, ports that vanish and come back,
ports without a file descriptor. The console stays usable through all of it."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random

import pytest
import serial

from controller.console.serial_link import OUTPUT_LIMIT, FdLink, PtyLink, ThreadLink, open_link
from tests.console.harness import RawPty, ask, ask_json, bare_console, connect, until

pytestmark = pytest.mark.timeout(60)
BIG = {"input_bytes_per_s": 1e6, "input_burst": 1_000_000}


def pty_port(tmp_path) -> tuple[str, str]:
    link = str(tmp_path / "console")
    return f"pty:{link}", link


def _write(path: str, data: bytes) -> None:
    port = serial.Serial(path, 115200)
    try:
        port.write(data)
        port.flush()
    finally:
        port.close()


def test_garbage_input_is_noise_and_the_console_still_answers(tmp_path):
    port, link = pty_port(tmp_path)
    noise = random.Random(6).randbytes(4000)

    async def scenario():
        async with bare_console(port, **BIG) as server:
            await until(lambda: server.connected, "console up")
            for data in (noise, b"\x00" * 300 + b"\r", b"x" * 5000 + b"\r", b"\x1b[" + b"9;" * 50 + b"m\r",
                         b"\x1b]0;title\x07\x1bP+q\x1b\\\r", "sta\u00e9tus\r".encode()):
                await asyncio.to_thread(_write, link, data)
            client = await connect(link)
            try:
                answer = await ask_json(client, "json version")
                text = await ask(client, "version")
            finally:
                client.close()
            return answer, text, server.stats()

    answer, text, stats = asyncio.run(scenario())
    assert answer["ok"] is True and answer["data"]["cabinet"] == "desk"
    assert text.startswith("dc-charger-controller ")
    assert stats["noise_bytes"] > 300 and stats["rejected_lines"] >= 4


def test_a_long_line_is_refused_with_a_reason(tmp_path):
    port, link = pty_port(tmp_path)

    async def scenario():
        async with bare_console(port, **BIG):
            client = await connect(link)
            try:
                client.port.write(b"status " + b"1" * 400 + b"\r")
                return await asyncio.to_thread(client._read_answer, 5.0)
            finally:
                client.close()

    answer = asyncio.run(scenario())
    assert b"error: line longer than 256 characters; discarded" in answer


def test_input_above_the_budget_is_dropped_and_counted(tmp_path, caplog):
    port, link = pty_port(tmp_path)

    async def scenario():
        async with bare_console(port, input_bytes_per_s=200.0, input_burst=300) as server:
            await until(lambda: server.connected, "console up")
            await asyncio.to_thread(_write, link, b"a" * 3000)
            await until(lambda: server.stats()["bytes_in"] >= 3000, "the flood read")
            dropped = server.stats()["input_dropped"]
            await asyncio.sleep(0.5)  # the budget refills; a person's typing fits again
            client = await connect(link)
            try:
                answer = await ask_json(client, "json version")
            finally:
                client.close()
            return dropped, answer

    with caplog.at_level(logging.WARNING, "controller.console"):
        dropped, answer = asyncio.run(scenario())
    assert 2000 <= dropped < 3000  # the burst and the refill while reading got through
    assert answer["ok"] is True
    assert "input above 200 bytes/s dropped" in caplog.text


def test_a_stuck_terminal_cannot_grow_the_output_without_bound(tmp_path):
    port, link = pty_port(tmp_path)

    async def scenario():
        async with bare_console(port, **BIG) as server:
            await until(lambda: server.connected, "console up")
            # a terminal that sends commands but never reads: 200 help answers of about 2 kB each
            await asyncio.to_thread(_write, link, b"help\r" * 200)
            await until(lambda: server.stats()["lines"] == 200, "every line run")
            held = len(server.link.output)
            dropped = server.stats()["output_dropped"]
            client = await connect(link)  # the terminal wakes up
            try:
                answer = await ask_json(client, "json version")
            finally:
                client.close()
            return held, dropped, answer

    held, dropped, answer = asyncio.run(scenario())
    assert held <= OUTPUT_LIMIT and dropped > 100_000
    assert answer["ok"] is True


def test_the_drop_note_reaches_a_terminal_that_catches_up(tmp_path):
    port, link = pty_port(tmp_path)

    async def scenario():
        async with bare_console(port, **BIG) as server:
            await until(lambda: server.connected, "console up")
            device = serial.Serial(link, 115200, timeout=0.2)
            try:
                await asyncio.to_thread(device.write, b"help\r" * 150)
                await until(lambda: server.stats()["lines"] == 150, "every line run")
                received = bytearray()
                while b"bytes of output dropped" not in received:
                    chunk = await asyncio.to_thread(device.read, 65536)
                    assert chunk, "the console stopped sending before the note"
                    received += chunk
                return received
            finally:
                device.close()

    received = asyncio.run(scenario())
    assert b"[console: " in received


def test_a_port_that_disappears_is_reopened_when_it_comes_back(tmp_path, caplog):
    link = tmp_path / "ttyUSB0"
    first, second = RawPty(), None
    os.symlink(first.path, link)

    async def scenario():
        nonlocal second
        async with bare_console(str(link), **BIG) as server:
            await until(lambda: server.connected, "console up")
            first.write(b"\x03")
            await asyncio.to_thread(first.read_until, b"> ")
            first.close()  # the cable is yanked: the device is gone
            await until(lambda: server.stats()["losses"] == 1 and not server.connected, "the loss noticed")
            await asyncio.sleep(0.2)  # some failed attempts to reopen
            second = RawPty()
            link.with_name("tmp").symlink_to(second.path)
            os.replace(link.with_name("tmp"), link)
            await until(lambda: server.connected and server.stats()["opens"] == 2, "console back")
            second.write(b"\x03json version\r")
            out = await asyncio.to_thread(second.read_until, b"}\r\n")
            return out

    with caplog.at_level(logging.INFO, "controller.console"):
        try:
            out = asyncio.run(scenario())
        finally:
            first.close()
            if second is not None:
                second.close()
    answer = json.loads(out.split(b"\r\n")[-2])
    assert answer["ok"] is True
    assert "console: lost" in caplog.text and "opened after" in caplog.text


def test_a_port_missing_at_start_is_retried_until_it_exists(tmp_path, caplog):
    link = tmp_path / "ttyACM0"
    device = RawPty()

    async def scenario():
        async with bare_console(str(link), wait=False, **BIG) as server:
            await asyncio.sleep(0.2)
            assert not server.connected and server.stats()["opens"] == 0
            link.symlink_to(device.path)
            await until(lambda: server.connected, "console up")
            device.write(b"\x03help version\r")
            return await asyncio.to_thread(device.read_until, b"needs: none role")

    with caplog.at_level(logging.WARNING, "controller.console"):
        try:
            out = asyncio.run(scenario())
        finally:
            device.close()
    assert b"usage: version" in out
    assert caplog.text.count("cannot open") == 1  # logged once, not at every retry


def test_a_socket_port_is_served_and_reconnected(tmp_path):
    async def scenario():
        connections: asyncio.Queue = asyncio.Queue()

        async def on_connect(reader, writer):
            await connections.put((reader, writer))

        tcp = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        address = tcp.sockets[0].getsockname()
        try:
            async with bare_console(f"socket://127.0.0.1:{address[1]}", wait=False, **BIG) as server:
                answers = []
                for _ in range(2):
                    reader, writer = await asyncio.wait_for(connections.get(), 10)
                    await asyncio.wait_for(reader.readuntil(b"> "), 10)  # the banner: the console listens
                    writer.write(b"\x03json version\r")
                    await writer.drain()
                    answers.append(await asyncio.wait_for(reader.readuntil(b"}\r\n"), 10))
                    writer.close()  # the terminal server drops the connection
                    await until(lambda: server.stats()["losses"] == len(answers), "the loss noticed")
                return answers, server.stats()
        finally:
            tcp.close()
            await tcp.wait_closed()

    answers, stats = asyncio.run(scenario())
    assert len(answers) == 2 and stats["opens"] == 2
    for answer in answers:
        assert json.loads(answer.split(b"\r\n")[-2])["ok"] is True


def test_open_link_picks_the_link_by_port(tmp_path):
    device = RawPty()
    links = []
    try:
        links.append(open_link(device.path, 115200))
        links.append(open_link(f"pty:{tmp_path / 'c'}", 115200))
        links.append(open_link("loop://", 115200))
        assert [type(x) for x in links] == [FdLink, PtyLink, ThreadLink]
        assert os.readlink(tmp_path / "c") == links[1].slave_path
        (tmp_path / "plain").write_text("keep me")
        with pytest.raises(FileExistsError):
            open_link(f"pty:{tmp_path / 'plain'}", 115200)
        with pytest.raises(serial.SerialException):
            open_link(str(tmp_path / "nothing"), 115200)
    finally:
        asyncio.run(_close_all(links))
        device.close()
    assert not (tmp_path / "c").exists() and (tmp_path / "plain").read_text() == "keep me"


async def _close_all(links) -> None:
    for link in links:
        await link.close()


def test_a_thread_link_hands_bytes_to_the_loop_and_reports_a_closed_port():
    async def scenario():
        link = ThreadLink("loop://", serial.serial_for_url("loop://", timeout=0))
        received, lost = bytearray(), []
        link.start(asyncio.get_running_loop(), received.extend, lost.append)
        link.send(b"status\r" * 500)  # more than the writer thread's queue holds at once
        await until(lambda: len(received) == 3500, "the loop-back bytes")
        link.port.close()  # the port goes away under the reader thread
        await until(lambda: bool(lost), "the loss reported")
        await link.close()
        return bytes(received), lost

    received, lost = asyncio.run(scenario())
    assert received == b"status\r" * 500
    assert len(lost) == 1 and "failed" in lost[0]
