"""Long fuzz run of the EXI decoder: python -m tools.exi_fuzz --seconds 60 [--seed N].

Inputs are derived from real payloads (the V2G messages of the shared captures, and those messages encoded
again): random bytes, truncations, bit flips, byte insertions and deletions, splices of two payloads and
oversized inputs. Every input is decoded with a schema (usually its own); a successful decode is encoded
again and that encoding decoded once more, which must give the same message. The only acceptable failure is
ExiError. Any other exception, a re-decoded message that differs, or an input that takes longer than the
per-input cap (a SIGALRM watchdog) is a finding, printed with its input hex; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from controller.formats.v2g import exi

DEFAULT_CAPTURES = Path(__file__).resolve().parents[1].parent / "shared" / "captures"
MAX_OVERSIZED = 64 * 1024
_PRINTED_FINDINGS = 20


class InputTimeout(BaseException):
    """Raised by the watchdog past the per-input cap; a BaseException so that no broad except hides it."""


@dataclass
class Finding:
    kind: str  # "exception", "hang" or "mismatch"
    schema: str
    stage: str  # "decode", "encode" or "redecode" (decoding what the encoder made of a decoded input)
    detail: str
    data: bytes

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "schema": self.schema, "stage": self.stage, "detail": self.detail,
                "hex": self.data.hex()}


@dataclass
class FuzzReport:
    seed: int
    seconds: float = 0.0
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    max_rss_kib: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "seconds": round(self.seconds, 1), "inputs": self.inputs,
                "outcomes": dict(self.outcomes), "mutations": dict(self.mutations),
                "max_rss_kib": self.max_rss_kib, "findings": [finding.to_json() for finding in self.findings]}


def capture_seeds(captures: Path) -> list[tuple[str, bytes]]:
    """(schema, payload) of every decodable V2G message in the captures, plus each one re-encoded."""
    from controller.formats.capture.dissect import dissect_file

    seeds: dict[tuple[str, bytes], None] = {}
    for path in sorted(captures.glob("*.pcap*")):
        for message in dissect_file(path):
            if message.protocol != "V2G" or message.error is not None:
                continue
            seeds[(message.schema, message.payload)] = None
            decoded = exi.decode(message.schema, message.payload)
            seeds[(message.schema, exi.encode(message.schema, decoded))] = None
    return list(seeds)


def _random_bytes(rng: random.Random, data: bytes, _: list[tuple[str, bytes]]) -> bytes:
    return rng.randbytes(rng.randint(0, 2 * len(data) + 8))


def _truncate(rng: random.Random, data: bytes, _: list[tuple[str, bytes]]) -> bytes:
    return data[:rng.randint(0, max(0, len(data) - 1))]


def _flip_bits(rng: random.Random, data: bytes, _: list[tuple[str, bytes]]) -> bytes:
    mutated = bytearray(data or b"\x80")
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(mutated) * 8)
        mutated[position // 8] ^= 0x80 >> (position % 8)
    return bytes(mutated)


def _insert_delete(rng: random.Random, data: bytes, _: list[tuple[str, bytes]]) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(mutated))
        if rng.random() < 0.5 and position < len(mutated):
            del mutated[position:position + rng.randint(1, 4)]
        else:
            mutated[position:position] = rng.randbytes(rng.randint(1, 4))
    return bytes(mutated)


def _splice(rng: random.Random, data: bytes, seeds: list[tuple[str, bytes]]) -> bytes:
    other = rng.choice(seeds)[1]
    return data[:rng.randint(0, len(data))] + other[rng.randint(0, len(other)):]


def _oversize(rng: random.Random, data: bytes, _: list[tuple[str, bytes]]) -> bytes:
    """Long inputs, and runs of 0xFF that read as huge lengths and varints."""
    if rng.random() < 0.5:
        position = rng.randint(0, len(data))
        return data[:position] + b"\xff" * rng.randint(8, 4096) + data[position:]
    return (data * (MAX_OVERSIZED // max(1, len(data)) + 1))[:rng.randint(len(data), MAX_OVERSIZED)]


MUTATIONS: dict[str, Callable[[random.Random, bytes, list[tuple[str, bytes]]], bytes]] = {
    "random": _random_bytes, "truncate": _truncate, "bitflip": _flip_bits, "insert_delete": _insert_delete,
    "splice": _splice, "oversize": _oversize,
}


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise InputTimeout


def _guarded(report: FuzzReport, schema: str, stage: str, data: bytes, call: Callable[[], Any],
             cap: float) -> tuple[bool, Any]:
    """Run `call` under the watchdog; record a finding for anything but success or ExiError."""
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        return True, call()
    except exi.ExiError:
        report.outcomes[f"{stage}_exi_error"] += 1
    except InputTimeout:
        report.outcomes[f"{stage}_hang"] += 1
        report.findings.append(Finding("hang", schema, stage, f"longer than {cap} s", data))
    except Exception as exc:  # noqa: BLE001 - anything but ExiError is what we hunt
        report.outcomes[f"{stage}_exception"] += 1
        report.findings.append(Finding("exception", schema, stage, f"{type(exc).__name__}: {exc}", data))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return False, None


def _check_reencoding(report: FuzzReport, schema: str, data: bytes, message: Any, cap: float) -> None:
    """What the decoder accepted must encode, and decode again to the same message."""
    encoded, again = _guarded(report, schema, "encode", data, lambda: exi.encode(schema, message), cap)
    if not encoded:
        return
    report.outcomes["encode_ok"] += 1
    decoded, copy = _guarded(report, schema, "redecode", data, lambda: exi.decode(schema, again), cap)
    if decoded and copy != message:
        report.outcomes["redecode_mismatch"] += 1
        report.findings.append(Finding("mismatch", schema, "redecode", f"re-encoded as {again.hex()}", data))


def fuzz(seeds: list[tuple[str, bytes]], seconds: float, seed: int, cap: float = 2.0) -> FuzzReport:
    rng = random.Random(seed)
    report = FuzzReport(seed)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            schema, base = rng.choice(seeds)
            if rng.random() < 0.1:
                schema = rng.choice(exi.SCHEMAS)
            name = rng.choice(list(MUTATIONS))
            data = MUTATIONS[name](rng, base, seeds)
            report.inputs += 1
            report.mutations[name] += 1
            decoded, message = _guarded(report, schema, "decode", data, lambda: exi.decode(schema, data), cap)
            if decoded:
                report.outcomes["decode_ok"] += 1
                _check_reencoding(report, schema, data, message, cap)
    finally:
        signal.signal(signal.SIGALRM, previous)
    report.seconds = time.monotonic() - started
    report.max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return report


def _print_report(report: FuzzReport) -> None:
    rate = report.inputs / report.seconds if report.seconds else 0.0
    print(f"seed {report.seed}: {report.inputs} inputs in {report.seconds:.1f} s ({rate:.0f}/s), "
          f"max RSS {report.max_rss_kib / 1024:.0f} MiB")
    for outcome, count in sorted(report.outcomes.items()):
        print(f"  {outcome:<22} {count}")
    print("  mutations: " + ", ".join(f"{name} {count}" for name, count in sorted(report.mutations.items())))
    for finding in report.findings[:_PRINTED_FINDINGS]:
        print(f"FINDING {finding.kind} in {finding.stage} ({finding.schema}): {finding.detail}")
        print(f"  input {finding.data.hex()}")
    if len(report.findings) > _PRINTED_FINDINGS:
        print(f"... and {len(report.findings) - _PRINTED_FINDINGS} more findings (use --json for all)")
    print("no findings" if not report.findings else f"{len(report.findings)} findings")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.exi_fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time based, printed)")
    parser.add_argument("--cap", type=float, default=2.0, help="seconds one input may take before it is a hang")
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES, help="folder of pcap/pcapng seeds")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    arguments = parser.parse_args(argv)
    seed = arguments.seed if arguments.seed is not None else time.time_ns() % 2**32
    seeds = capture_seeds(arguments.captures) if arguments.captures.is_dir() else []
    if not seeds:
        print(f"exi_fuzz: no seed payloads found in {arguments.captures}", file=sys.stderr)
        return 2
    report = fuzz(seeds, arguments.seconds, seed, arguments.cap)
    if arguments.json:
        print(json.dumps(report.to_json()))
    else:
        _print_report(report)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
