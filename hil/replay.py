"""Replay a real car's DIN requests from a capture against the controller (issue 5, part 8).

    charger-hil replay CAPTURE [--report PATH] [--setup NAME] [--speed X]

The controller runs in this process on the rig (desk setup: simulated I/O board, power modules, meter,
IMD) with the loopback V2G link: the replayed car plugs in, matches over SLAC, finds the SECC over SDP and
connects, then sends the car's requests of the capture's first V2G connection with the car's timing
(each at its captured offset from the first, divided by `speed`). The SessionID is adapted (ours after
SessionSetup). The rig does what the real car's hardware did: CP C before the cable check, the battery at
the car's precharge target, the car's contactor closed at PowerDelivery start and opened at stop.

Where our timing differs from the captured charger's, the replay behaves as the car would: a phase still
Ongoing (or a precharge not at the target yet) is asked again before the capture's next phase.
The run passes when no answer has a FAILED response code and none came later than the car's timeout.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.config import load_config
from controller.v2g import exi
from hil.controller_handle import InProcessController
from hil.ev.evcc.rig_link import RigV2gLink
from hil.ev.plc_connect import EvLinkPlan, connect_over_plc
from hil.ev.v2gtp_client import V2gtpClient, V2gtpClientError
from hil.rig import Rig
from hil.setup import RigSetup, cabinet_path, load_setup, private_can
from tools.capture.dissect import DissectedMessage, dissect_file
from tools.capture.pcap import CaptureError

START_TIMEOUT_S = 30.0
CURRENT_DEMAND_TIMEOUT_S = 0.25   # the car's timeouts (PROTOCOL-FACTS section 3)
REQUEST_TIMEOUT_S = 2.0
REPEAT_PERIOD_S = 0.1
PHASE_LIMIT_S = 40.0              # how long a repeated phase may take (the EV's CableCheck limit)
PRECHARGE_TOLERANCE_V = 20.0


class ReplayError(RuntimeError):
    """The capture cannot be replayed (no car requests, not DIN...); the message says why."""


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
class ReplayReport:
    capture: str
    steps: list[ReplayStep] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.steps) and not any(s.problem for s in self.steps)

    def to_json(self) -> dict:
        times = sorted(s.answer_ms for s in self.steps if s.request == "CurrentDemandReq" and s.answer_ms is not None)
        return {"capture": self.capture, "passed": self.passed, "error": self.error,
                "requests": len(self.steps), "problems": [s.to_json() for s in self.steps if s.problem],
                "current_demand_ms": {"count": len(times), "median": times[len(times) // 2] if times else None,
                                      "max": times[-1] if times else None},
                "faults": self.faults, "steps": [s.to_json() for s in self.steps]}


def car_requests(path: str | Path) -> list[DissectedMessage]:
    """The car's requests of the capture's first V2G connection (handshake first), retransmissions left out."""
    try:
        messages = dissect_file(path)
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}") from None
    except CaptureError as exc:
        raise ReplayError(f"{path}: {exc}") from None
    requests: list[DissectedMessage] = []
    for m in messages:
        if m.protocol != "V2G" or not m.from_ev or m.error:
            continue
        if m.type == "supportedAppProtocolReq" and requests:
            break  # a second connection: the first one is the session we replay
        requests.append(m)
    if not requests or requests[0].type != "supportedAppProtocolReq":
        raise ReplayError(f"{path}: no car requests starting with the AppProtocol handshake")
    schemas = {m.schema for m in requests[1:]}
    if schemas - {"din"}:
        raise ReplayError(f"{path}: the replay speaks DIN only, the capture holds {sorted(schemas)}")
    return requests


class CarReplay:
    def __init__(self, requests: list[DissectedMessage], rig: Rig, connector_id: int, client: V2gtpClient,
                 report: ReplayReport, speed: float):
        self.requests = requests
        self.rig = rig
        self.plant = rig.plants[connector_id]
        self.client = client
        self.report = report
        self.speed = speed
        self.session_id = b""
        self.t0 = time.monotonic()
        self.delay_s = 0.0

    async def run(self) -> None:
        first_t = self.requests[0].t
        for index, captured in enumerate(self.requests):
            due = self.t0 + (captured.t - first_t) / self.speed + self.delay_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            upcoming = self.requests[index + 1].type if index + 1 < len(self.requests) else None
            answer = await self.send(captured)
            if answer is None:
                return
            if upcoming is not None and upcoming != captured.type:
                started = time.monotonic()
                if not await self.until_done(captured, answer):
                    return
                self.delay_s += time.monotonic() - started  # the car's later requests keep their spacing

    async def until_done(self, captured: DissectedMessage, answer: Any) -> bool:
        """Ask again while our phase runs, as the car would, before moving on to the capture's next phase."""
        deadline = time.monotonic() + PHASE_LIMIT_S
        while not self.phase_done(captured, answer):
            if time.monotonic() > deadline:
                self.report.steps[-1].problem = f"{captured.type}: phase did not finish in {PHASE_LIMIT_S} s"
                return False
            await asyncio.sleep(REPEAT_PERIOD_S)
            answer = await self.send(captured, repeated=True)
            if answer is None:
                return False
        return True

    def phase_done(self, captured: DissectedMessage, answer: Any) -> bool:
        processing = getattr(answer, "EVSEProcessing", None)
        if processing is not None and processing.value == "Ongoing":
            return False
        if captured.type == "PreChargeReq":
            target = exi.decode("din", captured.payload).Body.PreChargeReq.EVTargetVoltage
            present = answer.EVSEPresentVoltage
            return abs(present.Value * 10.0 ** present.Multiplier - target.Value * 10.0 ** target.Multiplier) \
                < PRECHARGE_TOLERANCE_V
        return True

    async def send(self, captured: DissectedMessage, repeated: bool = False) -> Any | None:
        schema = "appproto" if captured.type == "supportedAppProtocolReq" else "din"
        message = exi.decode(schema, captured.payload)
        if schema == "din":
            if captured.type != "SessionSetupReq":
                message.Header.SessionID = self.session_id  # ours, not the captured charger's
            self.act_like_the_car(captured.type, message)
        step = ReplayStep(round(time.monotonic() - self.t0, 3), captured.type, repeated=repeated)
        self.report.steps.append(step)
        timeout = CURRENT_DEMAND_TIMEOUT_S if captured.type == "CurrentDemandReq" else REQUEST_TIMEOUT_S
        sent_t = time.monotonic()
        try:
            payload = await self.client.request(exi.encode(schema, message), timeout_s=timeout)
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
        body = getattr(answer.Body, step.response) if schema == "din" else answer
        step.code = body.ResponseCode.value
        if step.code.startswith("FAILED") or step.code == "Failed_NoNegotiation":
            step.problem = f"response code {step.code}"
            return None
        if step.response == "SessionSetupRes":
            self.session_id = answer.Header.SessionID
        self.after_answer(captured.type, message)
        return body

    def act_like_the_car(self, kind: str, message: Any) -> None:
        body = getattr(message.Body, kind)
        if kind == "ChargeParameterDiscoveryReq" and self.plant.battery is not None:
            self.plant.battery.soc_percent = float(body.DC_EVChargeParameter.DC_EVStatus.EVRESSSOC)
        elif kind == "CableCheckReq":
            self.plant.ev_cp_state = "C"
        elif kind == "PreChargeReq" and self.plant.battery is not None:
            battery = self.plant.battery  # the captured car's battery voltage: where precharge must end
            target = body.EVTargetVoltage.Value * 10.0 ** body.EVTargetVoltage.Multiplier
            shift = target - battery.open_circuit_voltage()
            battery.ocv_empty_v += shift
            battery.ocv_full_v += shift
        elif kind == "PowerDeliveryReq" and body.ReadyToChargeState:
            self.plant.ev_contactor_closed = True

    def after_answer(self, kind: str, message: Any) -> None:
        if kind == "PowerDeliveryReq" and not message.Body.PowerDeliveryReq.ReadyToChargeState:
            self.plant.ev_contactor_closed = False


async def replay_capture(path: str | Path, setup: RigSetup, *, speed: float = 1.0) -> ReplayReport:
    """Replay the car of `path` against the controller on the rig; the report of every exchange."""
    requests = car_requests(path)
    report = ReplayReport(str(path))
    phases: dict[int, str] = {}

    def on_event(kind: str, data: dict) -> None:
        if kind == "phase":
            phases[data["connector"]] = data["state"]
        elif kind == "fault" and data.get("active"):
            report.faults.append({"code": data["code"], "severity": data["severity"], "detail": data["detail"]})

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
        try:
            await CarReplay(requests, rig, cid, connection.client, report, speed).run()
        finally:
            await connection.close()
            plant.ev_contactor_closed = False
            await asyncio.sleep(0.3)
            plant.ev_cp_state = "A"
            await asyncio.sleep(0.3)
    except (ReplayError, TimeoutError) as exc:
        report.error = str(exc)
    finally:
        if controller is not None:
            await controller.stop()
        await v2g.close()
        await rig.stop()
    return report


async def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def summary(report: ReplayReport) -> str:
    data = report.to_json()
    lines = [f"capture      {report.capture}", f"requests     {data['requests']}"]
    cd = data["current_demand_ms"]
    if cd["count"]:
        lines.append(f"CurrentDemand answered in {cd['median']} ms median, {cd['max']} ms worst ({cd['count']})")
    for step in report.steps:
        if step.problem:
            lines.append(f"problem      t={step.t} s {step.request}: {step.problem}")
    if report.error:
        lines.append(f"error        {report.error}")
    lines.append(f"verdict      {'passed' if report.passed else 'FAILED'}")
    return "\n".join(lines)


def main_replay(capture: str, report_path: str | None, setup_name: str = "desk", speed: float = 1.0) -> int:
    try:
        report = asyncio.run(replay_capture(capture, load_setup(setup_name), speed=speed))
    except ReplayError as exc:
        print(f"charger-hil replay: {exc}")
        return 2
    if report_path:
        Path(report_path).write_text(json.dumps(report.to_json(), indent=2))
    print(summary(report))
    return 0 if report.passed else 1
