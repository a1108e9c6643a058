"""EXI codec speed: microseconds per decode and per encode of each DIN message type.

Samples are the DIN payloads of the shared captures (the first of each message type) plus the DC messages
the captures lack, built from JSON (WeldingDetection). Each figure is the median over several timeit
repeats of the mean time per call. The headline is what a SECC spends on one CurrentDemand cycle in the
codec: decode the car's CurrentDemandReq, encode the CurrentDemandRes.

    python -m tools.bench.exi [--json]
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.formats.v2g import exi

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
SCHEMA = "din"
GOAL_US = 10.0  # developers' guide: CurrentDemand decode + encode
HEADLINE = ("CurrentDemandReq", "CurrentDemandRes")
REPEATS = 7
TARGET_SECONDS_PER_REPEAT = 0.02


_SESSION = {"SessionID": "0102030405060708"}
_EVSE_STATUS = {"EVSEIsolationStatus": "Valid", "EVSEStatusCode": "EVSE_Ready", "NotificationMaxDelay": 0,
                "EVSENotification": "None"}
# DC messages that the captures lack, built here so that every DC message type gets a figure.
BUILT_SAMPLES: dict[str, dict[str, Any]] = {
    "WeldingDetectionReq": {"Header": _SESSION, "Body": {"WeldingDetectionReq": {
        "DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": 80}}}},
    "WeldingDetectionRes": {"Header": _SESSION, "Body": {"WeldingDetectionRes": {
        "ResponseCode": "OK", "DC_EVSEStatus": _EVSE_STATUS,
        "EVSEPresentVoltage": {"Multiplier": 0, "Unit": "V", "Value": 12}}}},
}


def capture_samples(captures: Path = CAPTURES) -> dict[str, bytes]:
    """First DIN payload of each message type found in the captures, by type name."""
    from controller.formats.capture.dissect import dissect_file

    samples: dict[str, bytes] = {}
    for path in sorted(captures.glob("*.pcap*")):
        for message in dissect_file(path):
            if message.schema == SCHEMA and message.error is None:
                samples.setdefault(message.type, message.payload)
    return dict(sorted(samples.items()))


def time_call(call: Callable[[], object]) -> float:
    """Median over REPEATS of the mean microseconds per call; the loop count is calibrated first."""
    timer = timeit.Timer(call)
    number, elapsed = timer.autorange()
    number = max(1, int(number * TARGET_SECONDS_PER_REPEAT / max(elapsed, 1e-9)))
    return statistics.median(timer.repeat(repeat=REPEATS, number=number)) / number * 1e6


def run_exi_bench(captures: Path = CAPTURES) -> dict[str, Any]:
    """Per-type decode/encode figures and the CurrentDemand headline, JSON-able."""
    samples = capture_samples(captures) if captures.is_dir() else {}
    sources = dict.fromkeys(samples, "capture")
    for type_name, fields in BUILT_SAMPLES.items():
        if type_name not in samples:
            samples[type_name] = exi.encode(SCHEMA, exi.from_json(SCHEMA, type_name, fields))
            sources[type_name] = "built"
    result: dict[str, Any] = {
        "method": (f"timeit in one process, no GC pause control; per call = median of {REPEATS} repeats of "
                   f"a loop calibrated to about {TARGET_SECONDS_PER_REPEAT * 1000:.0f} ms; samples = first "
                   f"payload of each DIN message type in {captures}, WeldingDetection built from JSON"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
        "messages": {},
    }
    if len(samples) == len(BUILT_SAMPLES):
        result["error"] = f"captures folder {captures} missing or empty: only the built samples are measured"
    for type_name, payload in sorted(samples.items()):
        message = exi.decode(SCHEMA, payload)
        result["messages"][type_name] = {
            "bytes": len(payload),
            "source": sources[type_name],
            "decode_us": round(time_call(lambda: exi.decode(SCHEMA, payload)), 2),
            "encode_us": round(time_call(lambda: exi.encode(SCHEMA, message)), 2),
        }
    request, response = HEADLINE
    if request in result["messages"] and response in result["messages"]:
        total = result["messages"][request]["decode_us"] + result["messages"][response]["encode_us"]
        result["headline"] = {"name": f"{request} decode + {response} encode", "us": round(total, 2),
                              "goal_us": GOAL_US, "met": total <= GOAL_US}
    return result


def format_table(result: dict[str, Any]) -> str:
    lines = [f"EXI codec ({SCHEMA}), Python {result['python']} on {result['machine']}",
             f"{'message':<32} {'bytes':>5} {'decode us':>10} {'encode us':>10}"]
    for type_name, figures in result["messages"].items():
        lines.append(f"{type_name:<32} {figures['bytes']:>5} {figures['decode_us']:>10.1f} "
                     f"{figures['encode_us']:>10.1f}")
    if "error" in result:
        lines.append(result["error"])
    headline = result.get("headline")
    if headline:
        verdict = "meets" if headline["met"] else "MISSES"
        lines.append(f"{headline['name']}: {headline['us']:.1f} us "
                     f"({verdict} the goal of {headline['goal_us']:.0f} us)")
    lines.append(f"method: {result['method']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    result = run_exi_bench()
    print(json.dumps(result, indent=2) if "--json" in arguments else format_table(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
