"""`--inject KIND[:ARG]@PHASE[+SECONDS]`: parsed and checked before the rig opens anything."""
from __future__ import annotations

import math
from dataclasses import dataclass

from hil.injection.kinds import KINDS, PHASES, Kind

MAX_DELAY_S = 600.0


class InjectionSpecError(ValueError):
    """A bad --inject: the message names the part that is wrong and what is allowed."""


@dataclass(frozen=True)
class InjectionSpec:
    kind: Kind
    phase: str
    delay_s: float = 0.0
    argument: float | None = None

    @property
    def text(self) -> str:
        arg = f":{self.argument:g}" if self.kind.argument else ""
        delay = f"+{self.delay_s:g}" if self.delay_s else ""
        return f"{self.kind.name}{arg}@{self.phase}{delay}"


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InjectionSpecError(f"--inject {spec!r}: {what} {text[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise InjectionSpecError(f"--inject {spec!r}: {what} must be a finite number")
    return value


def parse_injection(spec: str) -> InjectionSpec:
    shown = spec[:60]
    head, at, tail = spec.partition("@")
    if not at:
        raise InjectionSpecError(f"--inject {shown!r}: expected KIND[:ARG]@PHASE[+SECONDS], "
                                 "e.g. output-overvoltage:60@charging+1 (charger-hil inject-list)")
    name, colon, arg_text = head.partition(":")
    kind = KINDS.get(name)
    if kind is None:
        raise InjectionSpecError(f"--inject {shown!r}: unknown kind {name[:30]!r} (known: {', '.join(KINDS)})")
    phase, plus, delay_text = tail.partition("+")
    if phase not in PHASES:
        raise InjectionSpecError(f"--inject {shown!r}: unknown phase {phase[:30]!r} (known: {', '.join(PHASES)})")
    if phase not in kind.phases:
        raise InjectionSpecError(f"--inject {shown!r}: {kind.name} does not apply in {phase} "
                                 f"(it does in: {', '.join(kind.phases)})")
    argument = kind.default
    if colon:
        if not kind.argument:
            raise InjectionSpecError(f"--inject {shown!r}: {kind.name} takes no argument")
        argument = _number(arg_text, kind.argument, shown)
    delay = 0.0
    if plus:
        delay = _number(delay_text, "SECONDS", shown)
        if not 0.0 <= delay <= MAX_DELAY_S:
            raise InjectionSpecError(f"--inject {shown!r}: SECONDS must be from 0 to {MAX_DELAY_S:g}")
    return InjectionSpec(kind, phase, delay, argument)


def parse_injections(specs: list[str] | tuple[str, ...] | None) -> tuple[InjectionSpec, ...]:
    return tuple(parse_injection(s) for s in specs or ())
