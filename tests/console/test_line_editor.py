"""The line editor byte by byte: echo, editing keys, line ends, history, escape sequences, noise."""
from __future__ import annotations

import pytest

from controller.console.line_editor import LineEditor

pytestmark = pytest.mark.timeout(10)


def feed(editor: LineEditor, data: bytes) -> list:
    results = [editor.key(b) for b in data]
    return [r for r in results if r is not None]


def take_echo(editor: LineEditor) -> bytes:
    echo = bytes(editor.echo)
    editor.echo.clear()
    return echo


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_each_line_ending_submits_once(ending):
    editor = LineEditor()
    results = feed(editor, b"status" + ending + b"faults" + ending)
    assert [(r.kind, r.text) for r in results] == [("line", "status"), ("line", "faults")]
    assert take_echo(editor) == b"status\r\nfaults\r\n"


def test_backspace_and_delete_erase_the_last_character():
    editor = LineEditor()
    results = feed(editor, b"statq\x08us\x7f\x7fus\r")
    assert results[0].text == "status"
    assert take_echo(editor) == b"statq\b \bus\b \b\b \bus\r\n"


def test_backspace_on_an_empty_line_echoes_nothing():
    editor = LineEditor()
    feed(editor, b"\x7f\x08")
    assert take_echo(editor) == b""


def test_ctrl_c_drops_the_line_and_ctrl_u_erases_it():
    editor = LineEditor()
    results = feed(editor, b"stop 1\x03")
    assert [r.kind for r in results] == ["interrupt"]
    assert take_echo(editor).endswith(b"^C\r\n")
    results = feed(editor, b"disable\x15status\r")
    assert results[0].text == "status"
    assert take_echo(editor) == b"disable" + b"\b \b" * 7 + b"status\r\n"


@pytest.mark.parametrize("up,down", [(b"\x1b[A", b"\x1b[B"), (b"\x1bOA", b"\x1bOB")])
def test_arrow_keys_walk_the_history(up, down):
    editor = LineEditor()
    feed(editor, b"status\rmodules\rmodules\r")
    assert editor.history == ["status", "modules"]  # a repeated line is kept once
    take_echo(editor)
    feed(editor, b"fa" + up)
    assert editor.line == "modules"
    feed(editor, up)
    assert editor.line == "status"
    feed(editor, up)  # nothing older: a bell, the line stays
    assert editor.line == "status" and take_echo(editor).endswith(b"\x07")
    feed(editor, down + down)
    assert editor.line == "fa"  # back to what was being typed
    results = feed(editor, up + b"\r")
    assert results[0].text == "modules"


def test_history_keeps_the_last_commands_only():
    editor = LineEditor(history_size=3)
    for i in range(5):
        feed(editor, f"log {i + 1}\r".encode())
    assert editor.history == ["log 3", "log 4", "log 5"]


def test_other_escape_sequences_and_control_keys_are_ignored():
    editor = LineEditor()
    results = feed(editor, b"st\x1b[C\x1b[1;5D\x1b[15~\tat\x04us\r")
    assert results[0].text == "status"
    assert take_echo(editor) == b"status\r\n"


def test_an_escape_sequence_cut_short_gives_its_byte_back():
    editor = LineEditor()
    results = feed(editor, b"\x1bstatus\r\x1b[12\rstatus\r")
    # ESC + 's' drops only the ESC; a CR inside a CSI sequence ends the sequence and the line
    assert [(r.kind, r.text) for r in results] == [("line", "status"), ("line", ""), ("line", "status")]


def test_a_runaway_escape_sequence_is_dropped():
    editor = LineEditor()
    results = feed(editor, b"\x1b[" + b"1;" * 40 + b"status\r")
    assert results[0].text.endswith("status")


def test_a_line_longer_than_the_limit_is_rejected_not_cut():
    editor = LineEditor(max_line=10)
    results = feed(editor, b"x" * 30 + b"\r")
    assert results[0].kind == "rejected" and "longer than 10" in results[0].text
    echo = take_echo(editor)
    assert echo.count(b"x") == 10 and echo.count(b"\x07") == 1
    assert feed(editor, b"status\r")[0].text == "status"  # the next line is fine


@pytest.mark.parametrize("noise", [b"\x00", b"\xff", b"\x80\x9b", b"\xc3\xa9"])
def test_a_line_with_noise_bytes_is_rejected(noise):
    editor = LineEditor()
    results = feed(editor, b"sta" + noise + b"tus\r")
    assert results[0].kind == "rejected" and "unreadable" in results[0].text
    assert editor.noise_bytes == len(noise)
    assert take_echo(editor) == b"status\r\n"  # noise is never echoed


def test_the_pin_of_a_login_is_masked_and_kept_out_of_the_history():
    editor = LineEditor()
    results = feed(editor, b"login 2468\r")
    assert results[0].text == "login 2468"
    assert take_echo(editor) == b"login ****\r\n"
    feed(editor, b"json login 1357\r")
    assert take_echo(editor) == b"json login ****\r\n"
    assert editor.history == []
    feed(editor, b"\x1b[A")
    assert editor.line == ""
