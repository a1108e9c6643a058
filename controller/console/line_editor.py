"""Turns the bytes a terminal sends into command lines, and produces the echo that goes back.

Works with picocom, screen, minicom and pyserial: printable ASCII is echoed, backspace (BS or DEL)
erases, Ctrl-C drops the line, Ctrl-U erases it, arrow up/down walk the history (VT100 `ESC [ A`
and `ESC O A`), and CR, LF or CR LF end a line. Everything else is dropped: other control keys and
escape sequences silently, bytes above 0x7F and NULs as noise (a wrong baud rate shows up as such
bytes), so a line that carried noise is discarded rather than run as a garbled command.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CTRL_C, BS, TAB, LF, CR, CTRL_U, ESC, DEL = 0x03, 0x08, 0x09, 0x0A, 0x0D, 0x15, 0x1B, 0x7F
BELL = b"\x07"
ERASE_ONE = b"\b \b"
MAX_SEQUENCE_BYTES = 16  # parameter bytes of one CSI sequence; longer ones are noise
MASKED_COMMANDS = ("login",)  # their arguments (PINs) echo as '*' and stay out of the history


@dataclass(frozen=True)
class EditorResult:
    kind: Literal["line", "rejected", "interrupt"]
    text: str = ""  # the line, or why it was rejected


class LineEditor:
    def __init__(self, max_line: int = 256, history_size: int = 20):
        self.max_line = max_line
        self.history_size = history_size
        self.history: list[str] = []
        self.echo = bytearray()  # what to send back; the caller takes it after each key
        self.noise_bytes = 0  # over the editor's life, for the console's counters
        self._line: list[str] = []
        self._overflow = False
        self._noise = 0
        self._after_cr = False
        self._escape: Literal["", "esc", "csi", "ss3"] = ""
        self._sequence_len = 0
        self._browse: int | None = None  # index into history while walking it
        self._draft = ""
        self._masking = False  # typed characters echo as '*'

    @property
    def line(self) -> str:
        return "".join(self._line)

    def key(self, byte: int) -> EditorResult | None:
        """Handle one input byte; a finished (or dropped) line comes back as a result."""
        after_cr, self._after_cr = self._after_cr, False
        if self._escape:
            return self._escape_key(byte)
        if byte == LF and after_cr:
            return None  # the LF of a CR LF pair
        if byte in (CR, LF):
            self._after_cr = byte == CR
            return self._submit()
        if byte == CTRL_C:
            self._reset_line()
            self.echo += b"^C\r\n"
            return EditorResult("interrupt")
        if byte in (BS, DEL):
            self._erase_last()
        elif byte == CTRL_U:
            self._erase_all()
            self._reset_line()
        elif byte == ESC:
            self._escape = "esc"
        elif byte == 0 or byte >= 0x80:
            self._noise += 1
            self.noise_bytes += 1
        elif 0x20 <= byte < 0x7F:
            self._insert(chr(byte))
        # other control keys (TAB, Ctrl-D, ...) do nothing
        return None

    # ---- editing -----------------------------------------------------------------------------------
    def _insert(self, char: str) -> None:
        if len(self._line) >= self.max_line:
            if not self._overflow:
                self.echo += BELL
            self._overflow = True
            return
        self.echo += b"*" if self._masking else char.encode()
        self._line.append(char)
        if char == " ":
            self._masking = self._masked()

    def _masked(self) -> bool:
        """True once the line holds a masked command word and a space after it (only a space or an
        erase can change this, so it is worked out then, not for every key)."""
        head = self.line.lstrip()
        if head.startswith("json "):
            head = head[5:].lstrip()
        word, space, _ = head.partition(" ")
        return bool(space) and word in MASKED_COMMANDS

    def _erase_last(self) -> None:
        if self._line:
            self._line.pop()
            self.echo += ERASE_ONE
            self._masking = self._masked()

    def _erase_all(self) -> None:
        self.echo += ERASE_ONE * len(self._line)

    def _reset_line(self) -> None:
        self._line = []
        self._masking = False
        self._overflow = False
        self._noise = 0
        self._browse = None

    def _replace_line(self, text: str) -> None:
        self._erase_all()
        self._line = list(text)
        self._masking = False  # the history holds no masked lines
        self._overflow = False
        self._noise = 0
        self.echo += text.encode()

    def _submit(self) -> EditorResult:
        text, overflow, noise = self.line, self._overflow, self._noise
        self._reset_line()
        self.echo += b"\r\n"
        if overflow:
            return EditorResult("rejected", f"line longer than {self.max_line} characters; discarded")
        if noise:
            return EditorResult("rejected", f"{noise} unreadable byte(s) on the line (line noise or a wrong "
                                            "baud rate?); discarded")
        self._remember(text.strip())
        return EditorResult("line", text)

    def discard_line(self) -> bool:
        """Drop the line being typed (its input was cut short); True when there was one to drop."""
        had_line = bool(self._line) or self._overflow or self._noise > 0
        self._reset_line()
        self._escape = ""
        return had_line

    # ---- history -----------------------------------------------------------------------------------
    def _remember(self, text: str) -> None:
        words = text.split()
        if not words or any(w in MASKED_COMMANDS for w in words[:2]):
            return
        if not self.history or self.history[-1] != text:
            self.history.append(text)
            del self.history[:-self.history_size]

    def _history_up(self) -> None:
        if not self.history or self._browse == 0:
            self.echo += BELL
            return
        if self._browse is None:
            self._draft = self.line
            self._browse = len(self.history)
        self._browse -= 1
        self._replace_line(self.history[self._browse])

    def _history_down(self) -> None:
        if self._browse is None:
            self.echo += BELL
            return
        self._browse += 1
        if self._browse >= len(self.history):
            self._browse = None
            self._replace_line(self._draft)
        else:
            self._replace_line(self.history[self._browse])

    # ---- escape sequences --------------------------------------------------------------------------
    def _escape_key(self, byte: int) -> EditorResult | None:
        state = self._escape
        if state == "esc":
            if byte == ord("["):
                self._escape, self._sequence_len = "csi", 0
                return None
            if byte == ord("O"):
                self._escape = "ss3"
                return None
            if byte == ESC:
                return None  # a second ESC starts over
            self._escape = ""
            return self.key(byte)
        if state == "csi" and 0x20 <= byte <= 0x3F:
            self._sequence_len += 1
            if self._sequence_len > MAX_SEQUENCE_BYTES:
                self._escape = ""
            return None
        self._escape = ""
        if 0x40 <= byte <= 0x7E:
            if byte == ord("A"):
                self._history_up()
            elif byte == ord("B"):
                self._history_down()
            return None  # other keys (left, right, home, F-keys) are not offered
        return self.key(byte)  # not part of a sequence after all
