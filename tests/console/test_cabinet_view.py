"""The console sees the controller only through CabinetView: every command runs against a small fake view
(no app, no drivers, no CAN), and the console's code reaches for nothing else."""
from __future__ import annotations

import ast
import asyncio
import json
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import can
import pytest

from controller.formats.cabinet.config import ConsoleConfig, load_config
from controller.console.auth import ConsoleAuth
from controller.console.cabinet_view import NetworkState, SelfTestRefused
from controller.console.commands import build_registry
from controller.console.session import ConsoleSession
from controller.diagnostics.archive import ArchiveSources
from controller.hw.power.group import GroupCapabilities
from hil.setup import cabinet_path

pytestmark = pytest.mark.timeout(30)

CONSOLE = Path(__file__).resolve().parents[2] / "controller" / "console"
TECH_PIN = "2468"


class FakeConnector:
    def __init__(self, cid: int):
        self.id = cid
        self.state = "plugged"
        self.enabled = True
        self.authorized = False
        self.io_board_online = True
        self.active_faults: dict = {}
        self.fault_history: list = []
        self.session = None
        self.last_session = None
        self.stops: list[str] = []

    def snapshot(self) -> dict:
        return {"connector": self.id, "type": "CCS1", "state": self.state, "cp": "B", "voltage_v": 0.0,
                "current_a": 0.0, "power_kw": 0.0, "power_source": "modules", "soc": None,
                "contactors_closed": False, "modules_on": False, "session": None, "faults": []}

    def module_capabilities(self) -> GroupCapabilities:
        return GroupCapabilities(1000.0, 150.0, 200.0, 60_000.0, 2, 2)

    def module_states(self) -> list[dict]:
        return [{"address": 1, "state": "ok", "healthy": True, "voltage": 0.0, "current": 0.0, "temperature": 30,
                 "flags": [], "last_seen_age_s": 0.1}]

    def power_groups(self) -> list[str] | None:
        return None  # a static cabinet

    def authorize(self) -> None:
        self.authorized = True

    def request_stop(self, reason: str) -> bool:
        self.stops.append(reason)
        return True

    def set_enabled(self, enabled: bool, *, maintenance: bool = False) -> None:
        self.enabled = enabled

    def clear_latched(self) -> list[str]:
        return []


class FakeCabinet:
    def __init__(self):
        config = load_config(cabinet_path("desk"))
        self.config = replace(config, console=ConsoleConfig(port="fake", technician_pin=TECH_PIN))
        self.connectors = [FakeConnector(1)]
        self.store = None
        self.started_t = None
        self.store_health = None
        self.actions: list[str] = []
        self.frames = [("power", can.Message(arbitration_id=0x123, data=b"\x01", is_extended_id=False))]
        self.self_test_refusal: str | None = None
        self.reported: list = []
        self.certificate_list: list = []  # CertificateInfo for `certs` and the status warning

    def device_reading(self, kind: str, connector_id: int) -> dict:
        return {"connector": connector_id, "configured": False}

    @contextmanager
    def can_tap(self, on_frame):
        for port, msg in self.frames:
            on_frame(port, msg)
        yield

    async def self_test(self, connector_id: int, on_step) -> list[dict]:
        if self.self_test_refusal:
            raise SelfTestRefused(self.self_test_refusal)
        on_step("io_board", True, "online, CP A")
        return [{"step": "io_board", "ok": True, "detail": "online, CP A"}]

    def subscribe(self, sink) -> None:
        pass

    def report(self, event) -> None:
        self.reported.append(event)

    def prices(self):
        return None

    def network(self) -> NetworkState:
        return NetworkState(configured=False)

    def certificates(self) -> list:
        return self.certificate_list

    def reservation_refusal(self, connector_id: int, id_token: str | None) -> str | None:
        return None

    def token_authorized(self, connector_id: int, id_token: str) -> None:
        self.actions.append(f"token {id_token} on {connector_id}")
    async def present_token(self, id_token: dict, connector_id: int, source: str) -> tuple[str, str]:
        return "not used", f"token {id_token['idToken']}: no car waits"

    def record_action(self, message: str, data: dict | None = None, connector: int | None = None) -> None:
        self.actions.append(message)

    def diagnostics(self) -> ArchiveSources:
        return ArchiveSources("FAKE-1", {"controller": "test"}, max_bytes=64 * 1024, memory_faults=lambda: [])


def _answers(cabinet: FakeCabinet, lines: list[str]) -> list[str]:
    written: list[str] = []
    auth = ConsoleAuth(cabinet.config.console)
    session = ConsoleSession(cabinet, auth, build_registry(), written.append)

    async def run() -> list[str]:
        out = []
        for line in lines:
            written.clear()
            await session.run_line(line)
            out.append("\n".join(written))
        return out
    return asyncio.run(run())


def test_every_command_runs_against_a_small_fake_view():
    cabinet = FakeCabinet()
    lines = ["help", "version", "config", "status", "modules", "meter", "imd", "faults", "log", "sessions",
             "uptime", f"login {TECH_PIN}", "authorize", "stop 1", "disable 1", "enable 1", "clear",
             "json selftest 1", "json cantrace 0.01"]
    answers = dict(zip(lines, _answers(cabinet, lines)))
    for line, answer in answers.items():
        assert answer and not answer.startswith("error") and "internal error" not in answer, (line, answer)
    assert "connector 1 CCS1: plugged" in answers["status"]
    assert "2 of 2 modules healthy" in answers["modules"]
    assert cabinet.connectors[0].authorized and cabinet.connectors[0].stops == ["console_stop"]
    assert json.loads(answers["json selftest 1"])["data"]["passed"] is True
    trace = json.loads(answers["json cantrace 0.01"])["data"]
    assert trace["seen"] == 1 and trace["frames"][0]["port"] == "power"
    assert any(a.startswith("stop 1: ok") for a in cabinet.actions)  # technician actions are recorded


def test_a_refused_self_test_is_one_error_line_with_the_reason():
    cabinet = FakeCabinet()
    cabinet.self_test_refusal = "connector 1 is plugged with CP B: the selftest needs no car connected"
    answers = _answers(cabinet, [f"login {TECH_PIN}", "selftest 1"])
    assert answers[1] == "error: connector 1 is plugged with CP B: the selftest needs no car connected"


def _console_sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(CONSOLE.rglob("*.py"))]


def test_console_code_never_reaches_the_app_or_the_drivers():
    forbidden = ("controller.app", "controller.hw.io_board", "controller.hw.can_port", "controller.hw.can_bus",
                 "controller.hw.meter", "controller.hw.imd", "controller.connector.connector")
    for path, tree in _console_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(forbidden), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("getattr", "hasattr"), \
                    f"{path.name}:{node.lineno} probes with {node.func.id}"


def test_the_command_context_is_typed():
    from typing import Any, get_type_hints

    from controller.console.cabinet_view import CabinetView
    from controller.console.registry import CommandContext

    hints = get_type_hints(CommandContext)
    assert hints["cabinet"] is CabinetView
    assert Any not in hints.values()


@pytest.mark.parametrize("protocol, implementation, fake", [
    ("CabinetView", "AppCabinetView", FakeCabinet), ("ConnectorView", "ConnectorHandle", FakeConnector)])
def test_the_app_side_and_the_fake_offer_every_member_of_the_view(protocol, implementation, fake):
    import controller.app_cabinet_view as app_side
    import controller.console.cabinet_view as view

    members = {name for name in vars(getattr(view, protocol)) if not name.startswith("_")}
    assert members, protocol
    assert members <= set(dir(getattr(app_side, implementation))), protocol
    built = fake() if fake is FakeCabinet else fake(1)
    assert members <= set(dir(built)), protocol


def test_every_login_is_reported_as_an_event_for_the_network():
    cabinet = FakeCabinet()
    _answers(cabinet, ["login 0000", f"login {TECH_PIN}"])
    assert [(e.KIND, e.ok, e.role, e.failures) for e in cabinet.reported] == [
        ("console_login", False, "viewer", 1), ("console_login", True, "technician", 0)]
