"""Figure 4, CAN ingest: the highest received frame rate the controller decodes without a drop, and its CPU
share at 4,000 frames/s (what a saturated 500 kbit/s bus carries).

Two processes in a private network namespace, one udp_multicast CAN channel between them:
  controller  the `nevi` cabinet's ControllerApp (CanPort, I/O board and module drivers, connectors; no Modbus
              devices and no rig), answering `snapshot` on stdin with its port counters and process CPU time;
  sender      this process: a cycle of realistic frames (IoStatus, IoDcMeasure and IoTemperatures of the four
              boards; Vout, Iout, status and inlet-temperature answers of the 24 modules), paced in 1 ms bursts;
              the rig's CSMS runs in a thread of it, the controller linked to it over TLS (security profile 2).
A step sends at one rate for a window, then waits for the controller to drain. It holds the rate when every
frame sent was received and decoded (none rejected), the sender reached the rate, and at the end of the window
the controller was less than 50 ms of frames behind. CPU % = process CPU time / wall time over the window.

    python -m tools.bench.can_ingest run --can udp_multicast:GROUP [--quick]   (inside a private namespace)
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import can

from controller.app import ControllerApp
from controller.formats.cabinet.config import load_config
from controller.formats.can.dbc import load_dbc
from hil.setup import cabinet_path
from tools.bench import worker
from tools.bench.csms_thread import CsmsThread
from tools.bench.stats import goal

SETUP = "nevi"
CONNECTORS = 4
GOAL_FPS = 4000
GOAL_CPU_PERCENT = 10.0  # developers' guide
RAMP_FPS = (2000, 4000, 8000, 12000, 16000, 24000, 32000, 48000)
QUICK_RAMP_FPS = (2000, 4000, 8000)
WINDOW_S, QUICK_WINDOW_S = 2.0, 0.4
CPU_WINDOW_S, QUICK_CPU_WINDOW_S = 5.0, 0.6
DRAIN_S = 0.4
MAX_LAG_S = 0.05
BISECTIONS = 2
BURST_PERIOD_S = 0.001
MAX_BURST_S = 0.002  # at most 2 ms worth of frames back to back
_UU_READ_RESPONSE = 3


def realistic_frames() -> list[can.Message]:
    """One cycle of what the nevi cabinet's boards and modules send, all steady (no change to react to)."""
    cabinet = load_config(cabinet_path(SETUP))
    io = load_dbc("io_board")
    status, measure, temps = (io.get_message_by_name(n) for n in ("IoStatus", "IoDcMeasure", "IoTemperatures"))
    uu = load_dbc("uugreen_ur1000x0").get_message_by_name("UuFrame")
    frames = []
    for conn in cabinet.connectors:
        frames += [
            can.Message(arbitration_id=status.frame_id + conn.id, is_extended_id=False, data=status.encode({
                "CpState": 0, "Estop": 0, "DcPlusClosed": 0, "DcMinusClosed": 0, "LockState": 0,
                "CpHighVoltage": 12.0, "CpLowVoltage": 12.0, "ProximityState": 0, "WatchdogTripped": 0, "TripCause": 0,
                "HeartbeatEcho": 0, "CpDutyMeasured": 100.0})),
            can.Message(arbitration_id=measure.frame_id + conn.id, is_extended_id=False,
                        data=measure.encode({"CableVoltage": 0.0, "CableCurrent": 0.0})),
            can.Message(arbitration_id=temps.frame_id + conn.id, is_extended_id=False,
                        data=temps.encode({"TempDcPlus": 25.0, "TempDcMinus": 25.0, "TempCable": 25.0})),
        ]
    flags = [s.name for s in uu.signals if s.multiplexer_ids == [8]]
    for index, group in enumerate(cabinet.power.groups):
        for address in group.addresses:
            frame_id = uu.frame_id | (address << 14) | ((address * 0x9E5) & 0x3FFF)  # modules add serial bits
            for command, values in ((0, {"Vout": 0.0}), (1, {"Iout": 0.0}), (8, {f: 0 for f in flags}),
                                    (30, {"InletTemperature": 30.0})):
                data = uu.encode({"GroupNumber": index, "MessageType": _UU_READ_RESPONSE, "Command": command,
                                  "Reserved": 0, **values})
                frames.append(can.Message(arbitration_id=frame_id, is_extended_id=True, data=data))
    return frames


# ---- the controller process -----------------------------------------------------------------------------------

def _counters(app: ControllerApp) -> dict[str, Any]:
    ports = app.ports.values()
    return {"received": sum(p.counters.received for p in ports),
            "unknown_id": sum(p.counters.unknown_id for p in ports),
            "rejected": sum(p.counters.rejected for p in ports),
            "cpu_s": time.process_time(), "wall_s": time.monotonic()}


async def serve_controller(can_override: tuple[str, str], overrides: tuple[str, ...] = ()) -> None:
    """Run the controller; answer `snapshot`, `profile-on`, `profile-off` and `stop` lines on stdin."""
    config = load_config(cabinet_path(SETUP), overrides)
    config = replace(config, connectors=tuple(replace(c, meter=None, imd=None) for c in config.connectors))
    app = ControllerApp(config, can_override=can_override)
    await app.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    profiler: cProfile.Profile | None = None
    print(json.dumps({"ready": True}), flush=True)
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "snapshot":
                answer: Any = _counters(app)
            elif line == "profile-on":
                profiler = cProfile.Profile()
                profiler.enable()
                answer = {"profiling": True}
            elif line == "profile-off" and profiler is not None:
                profiler.disable()
                answer = _profile(profiler)
            elif line == "stop":
                break
            else:
                answer = {"error": f"unknown command {line!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        await app.stop()


# Where the controller's time goes, by layer: (layer, fragments of the file path or the builtin's name).
LAYERS = (
    ("transport: python-can udp_multicast, msgpack, can.Message", ("can/interfaces/", "can/message.py", "msgpack",
                                                                   "recvmsg", "sendto")),
    ("asyncio loop and python-can Notifier", ("asyncio/", "selectors.py", "can/notifier.py", "epoll")),
    ("CanPort dispatch", ("controller/hw/can_port.py",)),
    ("DBC decode and encode (cantools)", ("cantools/",)),
    ("drivers: I/O board, power modules", ("controller/hw/",)),
    ("connectors and app", ("controller/",)),
)


def _layer(file: str, name: str, callers: dict | None = None) -> str:
    """The layer of a function; a builtin (dict.get, isinstance...) counts for the layer that calls it most."""
    for layer, fragments in LAYERS:
        if any(fragment in file or fragment in name for fragment in fragments):
            return layer
    if file == "~" and callers:
        (caller_file, _, caller_name), _ = max(callers.items(), key=lambda item: item[1][2])
        return _layer(caller_file, caller_name)
    return "other"


def _profile(profiler: cProfile.Profile, count: int = 12) -> dict[str, Any]:
    """Own time by layer (share of the total) and the functions with the most own time."""
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, primitive calls, tottime, cumtime, ...)
    total = sum(entry[2] for entry in stats.values()) or 1.0
    layers: dict[str, float] = {}
    for (file, _, name), entry in stats.items():
        layer = _layer(file, name, entry[4])
        layers[layer] = layers.get(layer, 0.0) + entry[2]
    ordered = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:count]
    return {
        "by_layer_percent": {layer: round(own / total * 100.0, 1)
                             for layer, own in sorted(layers.items(), key=lambda item: -item[1])},
        "top_functions": [{"function": f"{name} ({file.rsplit('/', 2)[-1] if '/' in file else file}:{line})",
                           "calls": calls, "tottime_s": round(tottime, 4), "cumtime_s": round(cumtime, 4)}
                          for (file, line, name), (_, calls, tottime, cumtime, _) in ordered],
    }


# ---- the sender (orchestrator) --------------------------------------------------------------------------------

class ControllerProcess:
    def __init__(self, can_text: str, overrides: list[str] = ()):
        sets = [arg for item in overrides for arg in ("--set", item)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.bench.can_ingest", "controller", "--can", can_text, *sets],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=worker.ROOT)
        if not self._read().get("ready"):
            raise RuntimeError("the controller process did not report ready")

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the controller process ended (exit {self.proc.poll()})")
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def send_paced(bus: can.BusABC, frames: list[can.Message], rate: float, window_s: float) -> tuple[int, float]:
    """Send the cycle at `rate` frames/s for `window_s`; returns (frames sent, seconds taken)."""
    start = time.perf_counter()
    sent = 0
    count = len(frames)
    max_burst = max(1, int(rate * MAX_BURST_S))
    while (elapsed := time.perf_counter() - start) < window_s:
        # a bus cannot burst: after a stall of this process the lost time stays lost
        due = min(int(elapsed * rate) + 1, sent + max_burst)
        while sent < due:
            bus.send(frames[sent % count])
            sent += 1
        time.sleep(BURST_PERIOD_S)
    return sent, time.perf_counter() - start


def step(controller: ControllerProcess, bus: can.BusABC, frames: list[can.Message], rate: float,
         window_s: float) -> dict[str, Any]:
    before = controller.ask("snapshot")
    sent, took = send_paced(bus, frames, rate, window_s)
    at_end = controller.ask("snapshot")
    time.sleep(DRAIN_S)
    after = controller.ask("snapshot")
    received = after["received"] - before["received"]
    rejected = after["rejected"] - before["rejected"]
    lag = sent - (at_end["received"] - before["received"])
    achieved = sent / took
    cpu = (at_end["cpu_s"] - before["cpu_s"]) / (at_end["wall_s"] - before["wall_s"]) * 100.0
    reasons = []
    if received < sent:
        reasons.append(f"{sent - received} of {sent} frames lost")
    if rejected:
        reasons.append(f"{rejected} rejected")
    if achieved < 0.97 * rate:
        reasons.append(f"sender reached only {achieved:.0f} frames/s")
    if lag > rate * MAX_LAG_S:
        reasons.append(f"{lag} frames behind at the end of the window")
    return {"target_fps": rate, "sent": sent, "received": received, "rejected": rejected,
            "achieved_fps": round(achieved), "lag_frames": lag, "cpu_percent": round(cpu, 1),
            "window_s": round(took, 2), "held": not reasons, "why_not": "; ".join(reasons)}


def measure(can_text: str, quick: bool) -> dict[str, Any]:
    interface, _, channel = can_text.partition(":")
    frames = realistic_frames()
    window = QUICK_WINDOW_S if quick else WINDOW_S
    cpu_window = QUICK_CPU_WINDOW_S if quick else CPU_WINDOW_S
    csms = CsmsThread()  # the controller linked over OCPP with TLS, as the goals are set
    try:
        controller = ControllerProcess(can_text, csms.start())
    except BaseException:
        csms.stop()
        raise
    bus = can.Bus(interface=interface, channel=channel, fd=False)
    try:
        csms.wait_accepted(CONNECTORS)
        send_paced(bus, frames, 1000, 0.3 if quick else 1.0)  # boards online, modules answering
        time.sleep(DRAIN_S)
        steps = []
        best: float | None = None
        first_failed: float | None = None
        for rate in QUICK_RAMP_FPS if quick else RAMP_FPS:
            steps.append(step(controller, bus, frames, rate, cpu_window if rate == GOAL_FPS else window))
            if not steps[-1]["held"]:
                first_failed = rate
                break
            best = rate
        for _ in range(0 if quick or best is None or first_failed is None else BISECTIONS):
            rate = round((best + first_failed) / 2, -2)
            if rate in (best, first_failed):
                break
            steps.append(step(controller, bus, frames, rate, window))
            best, first_failed = (rate, first_failed) if steps[-1]["held"] else (best, rate)
        at_goal = next((s for s in steps if s["target_fps"] == GOAL_FPS), None)
        profile = None
        if at_goal and at_goal["cpu_percent"] > GOAL_CPU_PERCENT:
            controller.ask("profile-on")
            send_paced(bus, frames, GOAL_FPS, window)
            profile = controller.ask("profile-off")
        ocpp = csms.summary()
    finally:
        bus.shutdown()
        controller.close()
        csms.stop()
    return {"status": "ok", "steps": steps, "max_sustained_fps": best, "first_failed_fps": first_failed,
            "cycle_frames": len(frames), "at_4000_fps": at_goal, "profile_at_4000_fps": profile, "ocpp": ocpp}


def run_can_ingest(quick: bool = False) -> dict[str, Any]:
    """Figure 4 for the harness (the two processes run in a private namespace)."""
    method = ("controller (nevi ControllerApp, no rig) and a sender in separate processes on one udp_multicast "
              "channel in a private network namespace; steps of fixed rate "
              f"({QUICK_WINDOW_S if quick else WINDOW_S} s, {QUICK_CPU_WINDOW_S if quick else CPU_WINDOW_S} s at "
              f"{GOAL_FPS}/s), then a {DRAIN_S} s drain; a rate holds when no frame is lost or rejected and the "
              f"controller is under {MAX_LAG_S * 1000:.0f} ms behind; CPU % = controller process CPU time / wall; "
              "the transport (msgpack over UDP) is part of the cost; the controller linked to the rig's CSMS "
              "(in the sender's process) over TLS, security profile 2")
    try:
        result = worker.run_worker("tools.bench.can_ingest", ["run", "--can", worker.MULTICAST_CAN]
                                  + (["--quick"] if quick else []), timeout_s=180.0)
    except worker.NetnsUnavailable as exc:
        return {"status": "skipped", "reason": f"needs a private network namespace: {exc}", "method": method}
    return {**result, "method": method}


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    at_goal = result.get("at_4000_fps") or {}
    held = at_goal.get("held")
    return [goal(f"CAN ingest: controller CPU at {GOAL_FPS} frames/s", at_goal.get("cpu_percent"),
                 GOAL_CPU_PERCENT, "%", note="" if held in (None, True) else f"rate not held: {at_goal['why_not']}"),
            goal("CAN ingest: highest sustained rate, no drops", result.get("max_sustained_fps"), GOAL_FPS,
                 "frames/s", higher_is_better=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.can_ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=("run", "controller"))
    parser.add_argument("--can", required=True, metavar="udp_multicast:GROUP")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="controller role: a cabinet override (the sender passes the CSMS's)")
    args = parser.parse_args(argv)
    interface, channel = worker.multicast_can(parser, args.can, "two processes share the channel")
    worker.require_loopback_only()
    if args.role == "controller":
        asyncio.run(serve_controller((interface, channel), tuple(args.set)))
        return 0
    print(json.dumps(measure(args.can, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
