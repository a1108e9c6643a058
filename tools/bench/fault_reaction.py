"""Figure 3, fault reaction: from the frame that reports a fault to the frames that make the cabinet safe.

A bus observer records every frame while the four connectors of the `nevi` setup charge. One fault is injected
per connector, a few hundred ms apart. For each, in the observer's log:
  fault frame    e-stop: the I/O board's IoStatus with Estop=1 (the simulator sends it when the button is
                 pressed); module over-voltage: the module's status answer with DcOverVoltage=1 (sent when
                 the controller next polls the module's status, so the polling period is not part of it);
                 isolation alarm: the IMD's Modbus TCP reply with the resistance below the connector's fault
                 threshold, as a ModbusTap hands it to the controller (the next poll after the insulation of
                 the plant is lowered; the polling period is not part of it either);
  safe           the off frame to every module of the connector's group and the IoCommand with both
                 contactors open, whichever comes last.
A round starts a fresh rig and controller (the faults latch), plugs the cars and waits until all charge.

    python -m tools.bench.fault_reaction --layout in_process|separate_process [--rounds N] [--can IF:CH]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from controller.formats.can.dbc import load_dbc
from controller.formats.modbus import load_model
from tools.bench import worker
from tools.bench.bus_observer import BusObserver, Frame
from tools.bench.cabinet import BenchCabinet
from tools.bench.modbus_tap import ReadReply
from tools.bench.stats import summarize

SETUP = "nevi"
KINDS = ("estop", "module_overvoltage", "isolation_alarm")
ROUNDS = 25  # four samples each (one per connector): 100 per kind, so that the p99 is not just the maximum
QUICK_ROUNDS = 1
# over-voltage and isolation wait for the next status poll (nevi: 0.5 s) or IMD poll (0.25 s)
SPACING_S = {"estop": 0.15, "module_overvoltage": 0.6, "isolation_alarm": 0.45}
ROUND_TIMEOUT_S = 60.0
MAX_FAILED_ROUNDS = 3  # per kind: rounds whose cars never got to charging (reported, then replaced)
ISOLATION_FAULT_OHM = 50_000.0  # what the plant's insulation drops to: below every fault threshold in use
SETTLE_S = 0.4  # after the last injection, before the round ends
CHARGE_BEFORE_FAULT_S = 0.3  # let the current ramp first

_UU_ID_MASK = 0x1FFFC000  # protocol, monitor and module address; not the serial bits
_UU_SET, _UU_READ_RESPONSE = 0, 3
_UU_SHUTDOWN, _UU_STATUS = 4, 8

LAYOUT_TEXT = {
    "in_process": ("controller (ControllerApp), rig simulators, 4 cars and the observer in one process and one "
                   "asyncio loop; CAN = python-can `virtual` (frames stamped when sent)"),
    "separate_process": ("`charger-controller` in its own process; rig, cars and observer in the bench worker "
                         "process; CAN = python-can udp_multicast on loopback in a private network namespace "
                         "(frames stamped by the kernel on receipt)"),
}


class WireFrames:
    """Recognises the frames of the fault path: I/O board protocol and UUGreen modules (the nevi cabinet)."""

    def __init__(self) -> None:
        io = load_dbc("io_board")
        self._command = io.get_message_by_name("IoCommand")
        self._status = io.get_message_by_name("IoStatus")
        self._uu = load_dbc("uugreen_ur1000x0").get_message_by_name("UuFrame")

    def estop_reported(self, frame: Frame, connector_id: int) -> bool:
        return (not frame.extended and frame.arbitration_id == self._status.frame_id + connector_id
                and self._status.decode(frame.data, decode_choices=False)["Estop"] == 1)

    def contactors_opened(self, frame: Frame, connector_id: int) -> bool:
        if frame.extended or frame.arbitration_id != self._command.frame_id + connector_id:
            return False
        values = self._command.decode(frame.data, decode_choices=False)
        return values["DcPlusClose"] == 0 and values["DcMinusClose"] == 0

    def _module_values(self, frame: Frame, address: int) -> dict | None:
        if not frame.extended or frame.arbitration_id & _UU_ID_MASK != self._uu.frame_id | (address << 14):
            return None
        return self._uu.decode(frame.data, decode_choices=False)

    def module_off(self, frame: Frame, address: int) -> bool:
        v = self._module_values(frame, address)
        return bool(v and v["MessageType"] == _UU_SET and v["Command"] == _UU_SHUTDOWN and v["ShutdownDcdc"] == 1)

    def overvoltage_reported(self, frame: Frame, address: int) -> bool:
        v = self._module_values(frame, address)
        return bool(v and v["MessageType"] == _UU_READ_RESPONSE and v["Command"] == _UU_STATUS
                    and v["DcOverVoltage"] == 1)


@dataclass(frozen=True)
class Injection:
    kind: str
    connector_id: int
    addresses: tuple[int, ...]  # the connector's module group; the first one is made to fail
    t: float  # wall clock when injected
    imd_model: str = ""  # isolation alarm: the IMD's register map and the connector's fault threshold
    fault_below_ohm: float = 0.0


def fault_time(frames: list[Frame], injection: Injection, wire: WireFrames,
               imd_replies: list[ReadReply]) -> float | None:
    """When the fault first showed on a wire after the injection (None: it never did)."""
    cid = injection.connector_id
    if injection.kind == "isolation_alarm":
        resistance = load_model(injection.imd_model).values["resistance_ohm"]
        for reply in imd_replies:
            words = reply.words()
            if reply.t >= injection.t and all(a in words for a in resistance.addresses()) \
                    and resistance.decode(words) < injection.fault_below_ohm:
                return reply.t
        return None
    if injection.kind == "estop":
        reported = (f for f in frames if f.t >= injection.t and wire.estop_reported(f, cid))
    else:
        reported = (f for f in frames if f.t >= injection.t and wire.overvoltage_reported(f, injection.addresses[0]))
    return next((f.t for f in reported), None)


def reaction(frames: list[Frame], injection: Injection, wire: WireFrames, fault_t: float | None) -> dict[str, Any]:
    """The sample for one injection, or the reason it could not be measured."""
    cid = injection.connector_id
    if fault_t is None:
        return {"connector": cid, "missing": "the fault never showed on the wire"}
    after = [f for f in frames if f.t >= fault_t]
    off_times = []
    for address in injection.addresses:
        off = next((f.t for f in after if wire.module_off(f, address)), None)
        if off is None:
            return {"connector": cid, "missing": f"no off frame to module {address}"}
        off_times.append(off)
    opened = next((f.t for f in after if wire.contactors_opened(f, cid)), None)
    if opened is None:
        return {"connector": cid, "missing": "no IoCommand with the contactors open"}
    safe = max(*off_times, opened)
    modules_off_ms = (max(off_times) - fault_t) * 1000.0
    contactors_ms = (opened - fault_t) * 1000.0
    return {"connector": cid, "modules_off_ms": round(modules_off_ms, 3),
            "contactors_open_ms": round(contactors_ms, 3), "reaction_ms": round((safe - fault_t) * 1000.0, 3)}


class LoopLagProbe:
    """How late a short timer fires in this event loop: what a frame waiting for the loop goes through."""

    def __init__(self, period_s: float = 0.002):
        self.period_s = period_s
        self.lags_ms: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.lags_ms.append((loop.time() - due) * 1000.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _inject(run: BenchCabinet, kind: str, cid: int) -> None:
    if kind == "estop":
        run.rig.io_sims[cid].press_estop()
    elif kind == "module_overvoltage":
        run.rig.module_models[cid][0].overvoltage = True
    else:
        run.rig.plants[cid].isolation_ohm = ISOLATION_FAULT_OHM


async def measure_round(layout: str, kind: str, can_override: tuple[str, str] | None, wire: WireFrames,
                        probe: LoopLagProbe | None = None) -> tuple[list[dict[str, Any]], float, dict[str, Any]]:
    """One cabinet lifetime: charge on every connector, one fault per connector, one sample each; also the
    frames/s on the bus (all channels) while the cars charged before the first fault, and the OCPP link."""
    run = BenchCabinet(SETUP, layout, can_override, tap_imds=kind == "isolation_alarm")
    observer = BusObserver(run.can_channels())
    injections = []
    observer.start()
    try:
        await run.start()
        await run.charge()
        if probe is not None:
            probe.start()
        charging_t = time.time()
        await asyncio.sleep(CHARGE_BEFORE_FAULT_S)
        for conn in run.setup.cabinet_config.connectors:
            cid = conn.id
            addresses = tuple(m.address for m in run.rig.module_models[cid])
            imd = (conn.imd.model, conn.imd.fault_below_ohm) if conn.imd is not None else ("", 0.0)
            injections.append(Injection(kind, cid, addresses, time.time(), *imd))
            _inject(run, kind, cid)
            await asyncio.sleep(SPACING_S[kind])
        await asyncio.sleep(SETTLE_S)
        ocpp = run.ocpp_link()
    finally:
        if probe is not None:
            await probe.stop()
        try:
            await run.close()
        finally:
            frames = observer.stop()
    samples = []
    for injection in injections:
        tap = run.imd_taps.get(injection.connector_id)
        fault_t = fault_time(frames, injection, wire, tap.replies if tap else [])
        samples.append(reaction(frames, injection, wire, fault_t))
    first_fault_t = injections[0].t
    bus_fps = sum(1 for f in frames if charging_t <= f.t < first_fault_t) / (first_fault_t - charging_t)
    return samples, bus_fps, ocpp


async def measure(layout: str, rounds: int, can_override: tuple[str, str] | None = None) -> dict[str, Any]:
    """Every kind, `rounds` cabinet lifetimes each; percentiles of the reaction per kind."""
    wire = WireFrames()
    kinds: dict[str, Any] = {}
    # the loop a frame waits for is this process's only when the controller is in it
    probe = LoopLagProbe() if layout == "in_process" else None
    for kind in KINDS:
        samples: list[dict[str, Any]] = []
        failed: list[str] = []
        bus_fps: list[float] = []
        ocpp: dict[str, Any] = {"enabled": False}
        while len(bus_fps) < rounds and len(failed) <= MAX_FAILED_ROUNDS:
            try:
                found, fps, ocpp = await asyncio.wait_for(measure_round(layout, kind, can_override, wire, probe),
                                                    ROUND_TIMEOUT_S)
                samples += found
                bus_fps.append(fps)
            except (RuntimeError, TimeoutError) as exc:  # the cabinet never got to charging: try another round
                failed.append(str(exc) or f"the round took longer than {ROUND_TIMEOUT_S:.0f} s")
        good = [s for s in samples if "reaction_ms" in s]
        kinds[kind] = {
            "reaction_ms": summarize([s["reaction_ms"] for s in good]),
            "modules_off_ms": summarize([s["modules_off_ms"] for s in good]),
            "contactors_open_ms": summarize([s["contactors_open_ms"] for s in good]),
            "missing": [s for s in samples if "missing" in s],
            "failed_rounds": failed,
            "bus_frames_per_s_charging": round(sum(bus_fps) / len(bus_fps)) if bus_fps else None,
            "samples": good,
            "ocpp": ocpp,  # the last round's link
        }
    result = {"status": "ok", "layout": layout, "process_layout": LAYOUT_TEXT[layout], "rounds": rounds,
              "kinds": kinds}
    if probe is not None:
        result["loop_lag_ms"] = {**summarize(probe.lags_ms), "method": (
            f"lateness of a {probe.period_s * 1000:.0f} ms asyncio timer in the shared loop while the cars "
            "charge and the faults are injected")}
    return result


def run_fault_reaction(quick: bool = False) -> dict[str, Any]:
    """Figure 3 for the harness: both layouts (the separate one in a private namespace when possible)."""
    rounds = QUICK_ROUNDS if quick else ROUNDS
    variants: dict[str, Any] = {"in_process": asyncio.run(measure("in_process", rounds))}
    try:
        variants["separate_process"] = worker.run_worker(
            "tools.bench.fault_reaction",
            ["--layout", "separate_process", "--rounds", str(rounds), "--can", worker.MULTICAST_CAN],
            timeout_s=60.0 + 40.0 * rounds * len(KINDS))
    except worker.NetnsUnavailable as exc:
        variants["separate_process"] = {"status": "skipped", "reason": f"needs a private network namespace: {exc}"}
    except worker.WorkerFailed as exc:
        variants["separate_process"] = {"status": "error", "reason": str(exc)}
    return {
        "status": "ok",
        "method": (f"bus observer on the `{SETUP}` setup while all 4 connectors charge; per kind {rounds} "
                   f"round(s) x 4 connectors, a fresh rig and controller per round; from the fault on the wire "
                   "(IoStatus Estop=1; the module's status answer with DcOverVoltage=1; the IMD's Modbus TCP "
                   "reply with the resistance under the fault threshold, timed by a loopback Modbus tap) to the "
                   "last of: off frame to every module of the group, IoCommand with both contactors open; OCPP "
                   "connected to the rig's CSMS over TLS (security profile 2) in every round; "
                   "percentiles nearest-rank (p99 = max when n < 100)"),
        "variants": variants,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.fault_reaction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", choices=("in_process", "separate_process"), default="in_process")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--can", metavar="INTERFACE:CHANNEL", help="every CAN channel on this bus")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    can_override = None
    if args.can:
        interface, _, channel = args.can.partition(":")
        if not interface or not channel:
            parser.error("--can needs INTERFACE:CHANNEL")
        can_override = (interface, channel)
    if args.layout == "separate_process" and (can_override is None or can_override[0] == "virtual"):
        parser.error("separate_process needs a CAN bus both processes share (--can udp_multicast:GROUP)")
    if can_override and can_override[0] == "udp_multicast":
        worker.require_loopback_only()
    print(json.dumps(asyncio.run(measure(args.layout, args.rounds, can_override))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
