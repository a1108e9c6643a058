"""Indented source lines, and the pending-bits buffer that folds consecutive encoder writes into one shift."""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.depth += 1
        start = len(self.lines)
        yield
        if len(self.lines) == start:
            self.line("pass")
        self.depth -= 1


class PendingBits:
    """Bits an encoder appends to `a`, kept until control flow or a call forces one statement.

    Each item is (width, value): width an int or a variable name holding one, value an int or an
    expression. `flush` writes `a = (a << total) | (value1 << rest1) | ...` with constants folded.
    """

    def __init__(self) -> None:
        self.items: list[tuple[int | str, int | str]] = []

    def add(self, width: int | str, value: int | str) -> None:
        if width != 0:
            self.items.append((width, value))

    def flush(self, out: Writer) -> None:
        if not self.items:
            return
        terms: list[str] = []
        constant = 0
        shift_int = 0
        shift_names: list[str] = []
        for width, value in reversed(self.items):
            shift = _shift_text(shift_int, shift_names)
            if isinstance(value, int):
                if value and shift_names:
                    terms.append(f"({value} << {shift})")
                elif value:
                    constant |= value << shift_int
            elif shift == "0":
                terms.append(f"({value})")
            else:
                terms.append(f"(({value}) << {shift})")
            if isinstance(width, int):
                shift_int += width
            else:
                shift_names.append(width)
        if constant:
            terms.append(str(constant))
        total = _shift_text(shift_int, shift_names)
        if terms:
            out.line(f"a = (a << {total}) | " + " | ".join(reversed(terms)))
        else:
            out.line(f"a <<= {total}")
        self.items = []


def _shift_text(number: int, names: list[str]) -> str:
    parts = list(names) + ([str(number)] if number or not names else [])
    return parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"
