"""What a fuzz target is, and the property every target checks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

OneInput = Callable[[bytes], None]


class PropertyBroken(AssertionError):
    """A target's own check failed on an input (besides an exception escaping): a finding."""


@dataclass(frozen=True)
class Target:
    name: str
    what: str  # the parser it drives, for the report
    allowed: tuple[type[BaseException], ...]  # the module's declared error type(s): the only exceptions allowed
    build: Callable[[], OneInput]  # set up once per process (drivers, fake ports, event loop); returns one-input
    seeds: Callable[[], list[bytes]]
    max_len: int = 4096  # libFuzzer -max_len: inputs longer than any real frame of this wire add nothing


def guarded(target: Target, one_input: OneInput) -> OneInput:
    """The property: the declared errors are fine, anything else escapes (and is a finding)."""
    def run(data: bytes) -> None:
        try:
            one_input(data)
        except target.allowed:
            pass
    return run
