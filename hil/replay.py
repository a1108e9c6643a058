"""Replay real cars' requests from a capture against the controller (issue 5, part 8; issue 12, part 3).

    charger-hil replay CAPTURE [--report PATH] [--setup NAME] [--speed X]

Every V2G session of the capture is replayed, one after the other: each TCP connection (a multi-connector
rig pcap has one per connector and session), DIN 70121 and ISO 15118-2 alike (hil.replay_sessions says which
connections cannot be replayed and why; the report lists them). The controller runs in this process on the
rig (desk setup: simulated I/O board, power modules, meter, IMD) with the loopback V2G link: for each
session the replayed car plugs in, matches over SLAC, finds the SECC over SDP and connects, then sends the
car's requests with the car's timing (each at its captured offset from the first, divided by `speed`). The
SessionID is adapted (ours after SessionSetup). The rig does what the real car's hardware did: CP C before
the cable check, the battery at the car's precharge target, the car's contactor closed at PowerDelivery
start and opened at stop. Where the capture ends, the car ends the session the way a car does when the
driver stops it: CP back to B, and once the charger has powered down, it unplugs (the end of a capture is
not a car timeout).

Where our timing differs from the captured charger's, the replay behaves as the car would: a phase still
Ongoing (or a precharge not at the target yet) is asked again before the capture's next phase.
A replay passes when at least one session was replayed, no answer has a FAILED response code or came later
than the car's timeout, and the controller raised no fault; nothing replayed is a failure.
"""
from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.formats.cabinet.config import load_config
from controller.formats.v2g import exi
from controller.formats.events import Event, FaultRaised, PhaseChanged
from hil.controller_handle import InProcessController
from hil.interrupted_run import EXIT_INTERRUPTED
from hil.ev.evcc.rig_link import RigV2gLink
from hil.ev.plc_connect import EvLinkPlan, connect_over_plc
from hil.ev.v2gtp_client import V2gtpClient, V2gtpClientError
from hil.replay_sessions import CapturedSession, ReplayError, capture_sessions
from hil.rig import Rig
from hil.setup import RigSetup, cabinet_path, load_setup, private_can

__all__ = ["ReplayError", "ReplayReport", "capture_sessions", "main_replay", "replay_capture", "summary"]

START_TIMEOUT_S = 30.0
CURRENT_DEMAND_TIMEOUT_S = 0.25   # the car's timeouts (PROTOCOL-FACTS section 3)
REQUEST_TIMEOUT_S = 2.0
REPEAT_PERIOD_S = 0.1
PHASE_LIMIT_S = 40.0              # how long a repeated phase may take (the EV's CableCheck limit)
PRECHARGE_TOLERANCE_V = 20.0
POWER_DOWN_TIMEOUT_S = 5.0        # after CP C -> B the charger stops; the car waits this long to unplug
_POWERED = ("cable_check", "precharge", "charging", "stopping")


@dataclass
class ReplayStep:
    t: float                # seconds after the first request, as sent
    request: str
    response: str = ""
    code: str = ""
    answer_ms: float | None = None
    repeated: bool = False  # sent again by the replay (our phase was still running)
    problem: str = ""

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None, False)}


@dataclass
class SessionReplay:
    tcp_stream: int
    schema: str
    notes: list[str] = field(default_factory=list)
    steps: list[ReplayStep] = field(default_factory=list)
    ending: str = ""  # how the replayed car ended the session

    def to_json(self) -> dict:
        return {"tcp_stream": self.tcp_stream, "schema": self.schema, "requests": len(self.steps),
                "notes": self.notes, "ending": self.ending, "steps": [s.to_json() for s in self.steps]}


@dataclass
class ReplayReport:
    capture: str
    sessions: list[SessionReplay] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    error: str = ""

    @property
    def steps(self) -> list[ReplayStep]:
        return [step for session in self.sessions for step in session.steps]

    @property
    def passed(self) -> bool:
        return (not self.error and bool(self.sessions) and all(session.steps for session in self.sessions)
                and not any(s.problem for s in self.steps) and not self.faults)

    def to_json(self) -> dict:
        times = sorted(s.answer_ms for s in self.steps if s.request == "CurrentDemandReq" and s.answer_ms is not None)
        return {"capture": self.capture, "passed": self.passed, "error": self.error,
                "requests": len(self.steps), "skipped": self.skipped,
                "problems": [s.to_json() for s in self.steps if s.problem],
                "current_demand_ms": {"count": len(times), "median": times[len(times) // 2] if times else None,
                                      "max": times[-1] if times else None},
                "faults": self.faults, "sessions": [session.to_json() for session in self.sessions]}


class CarReplay:
    """One captured session, sent again by the rig's car over an open V2G connection."""

    def __init__(self, captured: CapturedSession, rig: Rig, connector_id: int, client: V2gtpClient,
                 report: SessionReplay, speed: float, interrupted: asyncio.Event | None = None):
        self.captured = captured
        # set on Ctrl-C: Python 3.11's wait_for can swallow a cancellation that lands as an answer arrives
        self.interrupted = interrupted
        self.schema = captured.schema
        self.plant = rig.plants[connector_id]
        self.client = client
        self.report = report
        self.speed = speed
        self.session_id = b""
        self.t0 = time.monotonic()
        self.delay_s = 0.0
        self.stopped = False  # SessionStop answered: the session ended as the car wanted

    async def run(self) -> None:
        if await self.exchange("supportedAppProtocolReq", "appproto", self.captured.handshake) is None:
            return
        requests = self.captured.requests
        first_t = requests[0].t
        for index, captured in enumerate(requests):
            due = self.t0 + (captured.t - first_t) / self.speed + self.delay_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            upcoming = requests[index + 1].type if index + 1 < len(requests) else None
            answer = await self.send(captured.type, captured.payload)
            if answer is None:
                return
            if upcoming is not None and upcoming != captured.type:
                started = time.monotonic()
                if not await self.until_done(captured.type, captured.payload, answer):
                    return
                self.delay_s += time.monotonic() - started  # the car's later requests keep their spacing

    async def until_done(self, kind: str, payload: bytes, answer: Any) -> bool:
        """Ask again while our phase runs, as the car would, before moving on to the capture's next phase."""
        deadline = time.monotonic() + PHASE_LIMIT_S
        while not self.phase_done(kind, payload, answer):
            if time.monotonic() > deadline:
                self.report.steps[-1].problem = f"{kind}: phase did not finish in {PHASE_LIMIT_S} s"
                return False
            await asyncio.sleep(REPEAT_PERIOD_S)
            answer = await self.send(kind, payload, repeated=True)
            if answer is None:
                return False
        return True

    def phase_done(self, kind: str, payload: bytes, answer: Any) -> bool:
        processing = getattr(answer, "EVSEProcessing", None)
        if processing is not None and processing.value != "Finished":
            return False
        if kind == "PreChargeReq":
            target = getattr(exi.decode(self.schema, payload).Body, kind).EVTargetVoltage
            return abs(_value(answer.EVSEPresentVoltage) - _value(target)) < PRECHARGE_TOLERANCE_V
        return True

    async def send(self, kind: str, payload: bytes, repeated: bool = False) -> Any | None:
        if self.interrupted is not None and self.interrupted.is_set():
            raise asyncio.CancelledError("interrupted")
        message = exi.decode(self.schema, payload)
        if kind != "SessionSetupReq":
            message.Header.SessionID = self.session_id  # ours, not the captured charger's
        self.act_like_the_car(kind, getattr(message.Body, kind))
        body = await self.exchange(kind, self.schema, exi.encode(self.schema, message), repeated)
        if body is not None:
            self.after_answer(kind, getattr(message.Body, kind))
        return body

    async def exchange(self, kind: str, schema: str, request: bytes, repeated: bool = False) -> Any | None:
        """Send one request; the answer's body, or None after noting the problem on the step."""
        step = ReplayStep(round(time.monotonic() - self.t0, 3), kind, repeated=repeated)
        self.report.steps.append(step)
        timeout = CURRENT_DEMAND_TIMEOUT_S if kind == "CurrentDemandReq" else REQUEST_TIMEOUT_S
        sent_t = time.monotonic()
        try:
            payload = await self.client.request(request, timeout_s=timeout)
        except V2gtpClientError as exc:
            step.problem = f"no answer: {exc}"
            return None
        step.answer_ms = round((time.monotonic() - sent_t) * 1000.0, 3)
        try:
            answer = exi.decode(schema, payload)
        except exi.ExiError as exc:
            step.problem = f"answer does not decode: {exc}"
            return None
        step.response = exi.message_type(answer)
        body = answer if schema == "appproto" else getattr(answer.Body, step.response)
        step.code = body.ResponseCode.value
        if step.code.startswith("FAILED") or step.code.startswith("Failed"):
            step.problem = f"response code {step.code}"
            return None
        if step.response == "SessionSetupRes":
            self.session_id = answer.Header.SessionID
        elif step.response == "SessionStopRes":
            self.stopped = True
        return body

    def act_like_the_car(self, kind: str, body: Any) -> None:
        battery = self.plant.battery
        if kind == "ChargeParameterDiscoveryReq" and battery is not None and body.DC_EVChargeParameter:
            battery.soc_percent = float(body.DC_EVChargeParameter.DC_EVStatus.EVRESSSOC)
        elif kind == "CableCheckReq":
            self.plant.ev_cp_state = "C"
        elif kind == "PreChargeReq" and battery is not None:
            shift = _value(body.EVTargetVoltage) - battery.open_circuit_voltage()  # where precharge must end
            battery.ocv_empty_v += shift
            battery.ocv_full_v += shift
        elif kind == "PowerDeliveryReq" and _starts(body):
            self.plant.ev_contactor_closed = True

    def after_answer(self, kind: str, body: Any) -> None:
        if kind == "PowerDeliveryReq" and not _starts(body):
            self.plant.ev_contactor_closed = False


def _value(physical: Any) -> float:
    return physical.Value * 10.0 ** physical.Multiplier


def _starts(power_delivery: Any) -> bool:
    """PowerDeliveryReq asks for power: DIN's ReadyToChargeState, ISO 15118-2's ChargeProgress Start."""
    progress = getattr(power_delivery, "ChargeProgress", None)
    if progress is not None:
        return progress.value == "Start"
    return bool(power_delivery.ReadyToChargeState)


async def replay_capture(path: str | Path, setup: RigSetup, *, speed: float = 1.0,
                         on_report: Callable[[ReplayReport], None] | None = None,
                         interrupted: asyncio.Event | None = None) -> ReplayReport:
    """Replay every session of `path` against the controller on the rig; the report of every exchange.
    `on_report` gets the report as soon as it exists, so a Ctrl-C can still write what was replayed."""
    sessions, skipped = capture_sessions(path)
    report = ReplayReport(str(path), skipped=skipped)
    if on_report is not None:
        on_report(report)
    if not sessions:
        report.error = "nothing to replay: no V2G session of the capture can be replayed"
        return report
    phases: dict[int, str] = {}

    def on_event(event: Event) -> None:
        match event:
            case PhaseChanged(connector=connector, state=state):
                phases[connector] = state
            case FaultRaised(code=code, severity=severity, detail=detail):
                report.faults.append({"code": code, "severity": severity, "detail": detail})

    can = private_can(setup)
    rig = Rig(setup, can)
    cid = setup.cabinet_config.connectors[0].id
    v2g = RigV2gLink("din", [cid])
    controller = None
    await rig.start()
    try:
        controller = InProcessController(load_config(cabinet_path(setup.name), tuple(rig.config_overrides())),
                                         can, on_event)
        await v2g.open()
        controller.app.build()
        await v2g.attach(controller.app)
        await controller.start()
        for index, captured in enumerate(sessions):
            session = SessionReplay(captured.tcp_stream, captured.schema, list(captured.notes))
            report.sessions.append(session)
            await _replay_session(captured, session, rig, cid, v2g, controller, phases, speed, interrupted)
            if report.faults:  # a latched fault may keep the connector out of service: say what was left
                report.skipped += [f"tcp {later.tcp_stream}: not replayed after the fault in tcp "
                                   f"{captured.tcp_stream}" for later in sessions[index + 1:]]
                break
    except (ReplayError, TimeoutError) as exc:
        report.error = str(exc)
    finally:
        if controller is not None:
            await controller.stop()
        await v2g.close()
        await rig.stop()
    return report


async def _replay_session(captured: CapturedSession, session: SessionReplay, rig: Rig, cid: int, v2g: RigV2gLink,
                          controller: InProcessController, phases: dict[int, str], speed: float,
                          interrupted: asyncio.Event | None = None) -> None:
    """Plug in, connect, replay, and end as a car does: stop charging (CP B), wait, unplug, then hang up."""
    await _wait(lambda: phases.get(cid) == "available", "the connector to become available")
    plant, board = rig.plants[cid], rig.io_sims[cid]
    plant.battery = rig.new_battery()
    plant.ev_cp_state = "B"
    await _wait(lambda: abs(board.commanded_duty - 5.0) < 0.5, "5 % PWM on CP")
    station = controller.app.seccs[cid]
    try:
        connection = await connect_over_plc(v2g.link.ev, sdp_port=station.sdp_port, plan=EvLinkPlan())
    except Exception as exc:  # SLAC, SDP or TCP: the reason is in the message
        raise ReplayError(f"link setup failed: {exc}") from None
    car = CarReplay(captured, rig, cid, connection.client, session, speed, interrupted)
    try:
        await car.run()
    finally:
        if not car.stopped and plant.ev_cp_state == "C":
            plant.ev_cp_state = "B"  # the driver ends the charge: the charger powers down (IEC 61851-1 C -> B)
            deadline = time.monotonic() + POWER_DOWN_TIMEOUT_S
            while phases.get(cid) in _POWERED and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        plant.ev_contactor_closed = False
        await asyncio.sleep(0.1)
        plant.ev_cp_state = "A"  # unplugged: the session ends with the cable, not with a car timeout
        await _wait(lambda: phases.get(cid) in ("available", "unavailable"), "the connector to see the unplug")
        await connection.close()
        where = "a problem" if any(step.problem for step in session.steps) else "the end of the capture"
        session.ending = "SessionStop" if car.stopped else f"at {where}: stopped charging (CP B), unplugged"


async def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def summary(report: ReplayReport) -> str:
    data = report.to_json()
    lines = [f"capture      {report.capture}"]
    for session in report.sessions:
        notes = "".join(f"; {note}" for note in session.notes)
        lines.append(f"session      tcp {session.tcp_stream} {session.schema}: {len(session.steps)} requests, "
                     f"{session.ending or 'not ended'}{notes}")
    for reason in report.skipped:
        lines.append(f"skipped      {reason}")
    lines.append(f"requests     {data['requests']} in {len(report.sessions)} session(s)")
    cd = data["current_demand_ms"]
    if cd["count"]:
        lines.append(f"CurrentDemand answered in {cd['median']} ms median, {cd['max']} ms worst ({cd['count']})")
    for step in report.steps:
        if step.problem:
            lines.append(f"problem      t={step.t} s {step.request}: {step.problem}")
    for fault in report.faults:
        lines.append(f"fault        {fault['code']} ({fault['severity']}) {fault['detail']}")
    if report.error:
        lines.append(f"error        {report.error}")
    lines.append(f"verdict      {'passed' if report.passed else 'FAILED'}")
    return "\n".join(lines)


async def replay_until_interrupted(capture: str, setup: RigSetup, speed: float) -> tuple[ReplayReport, str]:
    """replay_capture; SIGINT/SIGTERM stop it cleanly (controller and rig shut down as usual) and the report
    holds what was replayed so far. Returns the report and the signal's name ("" when it ran to the end)."""
    reports: list[ReplayReport] = []
    interrupted = asyncio.Event()
    task = asyncio.ensure_future(replay_capture(capture, setup, speed=speed, on_report=reports.append,
                                                interrupted=interrupted))
    loop = asyncio.get_running_loop()
    received: list[str] = []

    def interrupt(sig: signal.Signals) -> None:
        if not received:  # a second Ctrl-C must not cut the clean-up short
            received.append(sig.name)
            interrupted.set()
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt, sig)
    try:
        report = await task
    except asyncio.CancelledError:
        if not received or not reports:
            raise
        report = reports[0]
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if received:  # stopped by the signal (or it came as the last answer did): say so either way
        report.error = f"interrupted by {received[0]} before the capture ended"
        return report, received[0]
    return report, ""


def main_replay(capture: str, report_path: str | None, setup_name: str = "desk", speed: float = 1.0) -> int:
    try:
        report, interrupted_by = asyncio.run(replay_until_interrupted(capture, load_setup(setup_name), speed))
    except ReplayError as exc:
        print(f"charger-hil replay: {exc}")
        return 2
    if report_path:
        Path(report_path).write_text(json.dumps(report.to_json(), indent=2))
    print(summary(report))
    if interrupted_by:
        return EXIT_INTERRUPTED
    return 0 if report.passed else 1
