"""An outside EVCC on a connector: `charger-hil run --external-evcc 'COMMAND {iface}'`.

The controller runs in the rig's process with its SECC on the veth link (root). The rig plugs a car in (CP B),
does the car's SLAC on the simulated powerline, then starts COMMAND in the car's network namespace with
`{iface}` replaced by the car's interface: the outside program does SDP, TCP and the V2G messages itself. The
rig plays the car's hardware from the connector's phases (CP C before cable check, the car's contactor and a
battery behind it, CP B at the end) and judges the run by the controller's events and its store, never by the
outside program's exit status (Josev exits 0 even when it gave up, and never exits after a failed session).
The program is stopped a bounded time after the V2G connection closes.

Expectations: `charged` (a session in the store with energy, ended by the car's SessionStop) or `refused`
(no session; the connection or the handshake was refused and the port did not stay at 5 %: the connector's
CommunicationSetup timer restarted communication).
"""
from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from controller.formats.cabinet.config import load_config
from controller.formats.events import (CommunicationRestart, Event, FaultCleared, FaultRaised, PhaseChanged, SlacState,
                                       V2gClosed, V2gHandshake)
from hil.controller_handle import InProcessController
from hil.ev.evcc.rig_link import RigV2gLink
from hil.ev.slac_ev import SlacEv, SlacEvFailed
from hil.rig import Rig
from hil.runner import RunState, _wait_for
from hil.setup import RigSetup, cabinet_path, private_can

EXPECTATIONS = ("charged", "refused")
START_TIMEOUT_S = 30.0
KILL_AFTER_CLOSE_S = 3.0   # the outside program may still log or retry a little after the close
TERM_GRACE_S = 2.0         # SIGTERM, then SIGKILL
CP_RELEASE_V = 60.0        # the car opens its contactor and goes back to B once the output is safe
POWERED = ("precharge", "charging")
REPORTED_EVENTS = (PhaseChanged, V2gHandshake, V2gClosed, CommunicationRestart, SlacState, FaultRaised, FaultCleared)
WIND_DOWN = ("stopping", "welding_detection", "session_end", "error_shutdown", "emergency")


@dataclass(frozen=True)
class ExternalEvccPlan:
    command: str                  # a shell command; {iface} becomes the car's interface
    expect: str = "charged"
    time_limit_s: float = 120.0
    connector_index: int = 0      # which connector of the setup the car plugs into
    log_path: str | None = None   # the outside program's output (default: a temporary file, in the report)


class ExternalEvccRun:
    def __init__(self, setup: RigSetup, plan: ExternalEvccPlan):
        """Controller settings come with the setup (`load_setup(name, overrides)`: --set KEY=VALUE)."""
        if plan.expect not in EXPECTATIONS:
            raise ValueError(f"unknown expectation {plan.expect!r} (known: {', '.join(EXPECTATIONS)})")
        if "{iface}" not in plan.command:
            raise ValueError("the command must name the car's interface as {iface}")
        self.setup, self.plan, self.overrides = setup, plan, tuple(setup.overrides)
        self.state = RunState(t0=time.time())
        self.events: list[dict] = []  # for the report
        self.seen: list[Event] = []  # the same events, to decide on
        self.ids = [c.id for c in setup.cabinet_config.connectors]
        self.cid = self.ids[plan.connector_index]
        self._tmp = tempfile.TemporaryDirectory(prefix="external-evcc-")
        self.store_path = None if any(o.startswith("store.path=") for o in self.overrides) \
            else str(Path(self._tmp.name) / "store.sqlite")
        self.log_path = plan.log_path or str(Path(self._tmp.name) / "evcc.log")
        self.proc: asyncio.subprocess.Process | None = None
        self.closed_t: float | None = None
        self.stopped_t: float | None = None  # when the rig stopped the program (it had not ended by itself)
        self.plugged_t: float | None = None
        self.exit_code: int | None = None
        self.slac: dict = {}
        self.identifications: list[dict] = []  # tokens the controller was shown (a Plug & Charge eMAID too)

    # ---- the controller's events -----------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        self.state.on_event(event)
        if getattr(event, "connector", None) not in (None, self.cid):
            return
        if isinstance(event, REPORTED_EVENTS):
            self.seen.append(event)
            keep = {k: v for k, v in event.json_fields().items() if k not in ("answer_us",)}
            self.events.append({**keep, "kind": event.KIND, "t": round(time.time() - self.state.t0, 3)})
        if isinstance(event, V2gClosed) and self.closed_t is None:
            self.closed_t = time.monotonic()

    # ---- the run --------------------------------------------------------------------------------------
    async def run(self) -> dict:
        can = private_can(self.setup)
        rig = Rig(self.setup, can)
        v2g = RigV2gLink("din", self.ids, "veth")  # the rig's car does SLAC only; the profile is unused
        controller = None
        await rig.start()
        try:
            await v2g.open()
            overrides = [*self.overrides, *rig.config_overrides(),
                         *([f'store.path="{self.store_path}"'] if self.store_path else [])]
            controller = InProcessController(load_config(cabinet_path(self.setup), tuple(overrides)), can,
                                             self._on_event)
            controller.app.build()
            self._watch_identifications(controller.app)
            await v2g.attach(controller.app)
            await controller.start()
            await _wait_for(lambda: all(self.state.states.get(i) == "available" for i in self.ids),
                            START_TIMEOUT_S, "every connector available")
            await self._session(rig, v2g)
        finally:
            await self._stop_program()
            if controller is not None:
                await controller.stop()
            await v2g.close()
            await rig.stop()
        return self._report(rig)

    def _watch_identifications(self, app) -> None:
        """Note every token the controller decides on (a card's, or the eMAID the SECC presents after a
        contract's chain and signature held: source "contract") and its outcome, for the verdict."""
        decide = app.present_token

        async def present_token(id_token: dict, connector_id, source: str):
            outcome = await decide(id_token, connector_id, source)
            self.identifications.append({**id_token, "source": source, "connector": connector_id,
                                         "outcome": outcome[0], "text": outcome[1]})
            return outcome
        app.present_token = present_token

    async def _session(self, rig: Rig, v2g: RigV2gLink) -> None:
        plant, sim = rig.plants[self.cid], rig.io_sims[self.cid]
        plant.battery = rig.new_battery()
        plant.ev_cp_state = "B"
        self.plugged_t = time.monotonic()
        await _wait_for(lambda: abs(sim.commanded_duty - 5.0) < 0.5, 10.0, "5 % PWM after plug-in")
        end = v2g.link.evs[self.plan.connector_index]
        try:
            result = await SlacEv(end.frames).match()
            self.slac = {"matched": True, "attempts": result.attempts, "duration_s": round(result.duration_s, 3)}
        except SlacEvFailed as exc:
            self.slac = {"matched": False, "reason": str(exc)}
            return
        command = self.plan.command.replace("{iface}", shlex.quote(end.interface))
        with open(self.log_path, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *end.command_prefix(), "sh", "-c", command, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        hardware = asyncio.create_task(self._play_car_hardware(plant))
        try:
            await self._until_done()
        finally:
            hardware.cancel()
            await asyncio.gather(hardware, return_exceptions=True)
        await self._stop_program()
        plant.ev_contactor_closed = False
        plant.ev_cp_state = "A"  # unplugged: the session record closes
        await asyncio.sleep(0.5)
        started = any(isinstance(e, PhaseChanged) and e.state == "negotiating" for e in self.seen)
        if started:
            try:
                await _wait_for(lambda: self.cid in self.state.sessions, 5.0, "the session record")
            except TimeoutError:
                pass  # judged from the store below

    async def _until_done(self) -> None:
        """Until the V2G connection closed (plus a grace time), or the refusal's restart, or the time limit."""
        deadline = time.monotonic() + self.plan.time_limit_s
        while time.monotonic() < deadline:
            restarted = any(isinstance(e, CommunicationRestart) for e in self.seen)
            if self.plan.expect == "refused" and restarted:
                return
            if self.closed_t is not None and time.monotonic() - self.closed_t >= KILL_AFTER_CLOSE_S:
                await self._stop_program()  # a refusal still waits for the connector's restart
                if self.plan.expect == "charged":
                    return
            if self.proc is not None and self.proc.returncode is not None:
                if self.exit_code is None:
                    self.exit_code = self.proc.returncode  # noted only: Josev exits 0 whatever happened
                connected = any(isinstance(e, V2gHandshake) for e in self.seen)
                if self.plan.expect == "charged" and (self.closed_t is not None or not connected):
                    return  # gone without a session, or after it: nothing more will happen
            await asyncio.sleep(0.05)

    async def _play_car_hardware(self, plant) -> None:
        """CP C from parameter discovery on, the contactor closed once charging starts, opened and CP B when
        the connector winds down and the current is gone."""
        while True:
            state = self.state.states.get(self.cid)
            if state in ("parameter_discovery", "cable_check", *POWERED) and plant.ev_cp_state == "B":
                plant.ev_cp_state = "C"
            if state == "charging":
                plant.ev_contactor_closed = True
            if state in WIND_DOWN:
                if plant.output_current_a < 1.0 or state != "stopping":
                    plant.ev_contactor_closed = False
                if state != "stopping" and plant.ev_cp_state == "C":
                    plant.ev_cp_state = "B"
            await asyncio.sleep(0.01)

    async def _stop_program(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        self.stopped_t = time.monotonic()
        for sig, wait_s in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, TERM_GRACE_S)):
            try:
                os.killpg(proc.pid, sig)  # the shell and everything it started (a JVM for Josev's EXI)
            except ProcessLookupError:
                break
            try:
                await asyncio.wait_for(proc.wait(), wait_s)
                break
            except asyncio.TimeoutError:
                continue
        if self.exit_code is None:
            self.exit_code = proc.returncode

    # ---- the verdict ------------------------------------------------------------------------------------
    def _stored_sessions(self) -> list[dict]:
        """The connector's newest sessions, read from the store's file (read-only; the controller has stopped)."""
        path = self.store_path
        if path is None:
            path = next(o.split("=", 1)[1].strip('"') for o in self.overrides if o.startswith("store.path="))
        if not Path(path).exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT id, start_t, end_t, energy_kwh, peak_kw, stop_reason, evcc_id, status "
                              "FROM sessions WHERE connector = ? ORDER BY id DESC LIMIT 5", (self.cid,))
            return [dict(row) for row in rows]
        finally:
            db.close()

    def _report(self, rig: Rig) -> dict:
        sessions = self._stored_sessions()
        phases = [e.state for e in self.seen if isinstance(e, PhaseChanged)]
        closes = [e.reason for e in self.seen if isinstance(e, V2gClosed)]
        try:
            log_tail = Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            log_tail = ""
        return {
            "expect": self.plan.expect, "connector": self.cid, "slac": self.slac,
            "phases": phases, "reached_current_demand": "charging" in phases,
            "v2g_closed": closes, "events": self.events,
            "faults": [f for f in self.state.faults if f["connector"] in (None, self.cid)],
            "stored_sessions": sessions, "session": self.state.sessions.get(self.cid),
            "identifications": self.identifications,
            "final": rig.final_state(self.cid), "program_exit_code": self.exit_code,
            "program_log": self.log_path, "program_log_tail": log_tail,
            "program_stopped_after_close_s": round(self.stopped_t - self.closed_t, 2)
            if self.stopped_t is not None and self.closed_t is not None else None,
        }


def judge_external(report: dict) -> list[str]:
    """Why the run did not end as expected (empty: it did)."""
    problems = []
    final = report["final"]
    if final["contactors_closed"] or final["modules_on"] or final["output_current_a"] > 1.0:
        problems.append(f"not safe at the end: {final}")
    if not report["slac"].get("matched"):
        problems.append(f"SLAC did not match: {report['slac'].get('reason', '')}")
        return problems
    stored = report["stored_sessions"]
    if report["expect"] == "charged":
        if not report["reached_current_demand"]:
            problems.append(f"never charged (phases: {', '.join(report['phases']) or 'none'})")
        if not stored:
            problems.append("no session in the store")
        elif stored[0]["status"] != "ended" or stored[0]["energy_kwh"] <= 0.0:
            problems.append(f"the stored session did not end with energy: {stored[0]}")
        if "session stopped" not in report["v2g_closed"]:
            problems.append(f"the V2G connection did not end with SessionStop: {report['v2g_closed']}")
        blocking = [f["code"] for f in report["faults"] if f["severity"] != "warning"]
        if blocking:
            problems.append(f"faults: {', '.join(blocking)}")
    else:
        if "negotiating" in report["phases"] or stored:
            problems.append("a session started although the car should have been refused")
        if not any(e["kind"] == "communication_restart" for e in report["events"]):
            problems.append("the port stayed at 5 %: no communication restart after the refusal")
    return problems


async def run_external_evcc(setup: RigSetup, plan: ExternalEvccPlan) -> tuple[dict, list[str]]:
    report = await ExternalEvccRun(setup, plan).run()
    return report, judge_external(report)


def main_external_evcc(args) -> int:
    """`charger-hil run --external-evcc`: 0 when the run ended as expected, 1 when not, 2 on bad input."""
    import json
    import sys

    from hil.setup import load_setup
    plan = ExternalEvccPlan(args.external_evcc, expect=args.expect)
    for option, given in (("--separate-process", args.separate_process), ("--protocol", args.protocol),
                          ("--pcap", args.pcap), ("--car", args.car), ("--hold", args.hold),
                          ("--link", args.link != "loopback"), ("--can", args.can)):
        if given:
            print(f"charger-hil: --external-evcc runs the controller in the rig's process over veth; {option} "
                  "does not apply", file=sys.stderr)
            return 2
    if "{iface}" not in plan.command:
        print("charger-hil: --external-evcc: the command must name the car's interface as {iface}", file=sys.stderr)
        return 2
    setup = load_setup(args.setup, tuple(args.set or ()))
    report, problems = asyncio.run(run_external_evcc(setup, plan))
    if args.report:
        with open(args.report, "w") as fh:
            json.dump({**report, "problems": problems}, fh, indent=2, default=str)
    stored = report["stored_sessions"][0] if report["stored_sessions"] else None
    print(f"external EVCC on connector {report['connector']}: expected {report['expect']}, "
          f"phases {' > '.join(report['phases']) or 'none'}")
    if stored:
        print(f"stored session: {stored['status']}, {stored['energy_kwh']:.4f} kWh, stop {stored['stop_reason']}")
    print("result: ok" if not problems else "result: FAILED\n  " + "\n  ".join(problems))
    return 0 if not problems else 1
