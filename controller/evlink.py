"""Stand-in EV-session link: JSON lines over TCP, one listener per connector.

Until the SECC (DIN 70121 / ISO 15118-2 over PLC) lands, the rig's car reaches the connector's
EV-session interface through this small service. Like the SECC it is a service on top of the
connector and touches no hardware. One request per line: {"op": "...", ...}; one answer per line.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from controller.connector.ev_session import Answer, CurrentDemand, EvChargeParameters
from controller.formats.events import EventSink, EvLinkListening

log = logging.getLogger(__name__)
MAX_LINE = 4096


def _float(req: dict, key: str, required: bool = True) -> float | None:
    value = req.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number")
    return float(value)


def dispatch(connector: Any, req: dict) -> Answer:
    op = req.get("op")
    if op == "session_setup":
        return connector.ev_setup(str(req.get("evcc_id", "")))
    if op == "authorize":
        return connector.ev_authorization()
    if op == "charge_parameters":
        return connector.ev_charge_parameter_discovery(EvChargeParameters(
            max_voltage_v=_float(req, "max_voltage_v"), max_current_a=_float(req, "max_current_a"),
            max_power_w=_float(req, "max_power_w", False), soc_percent=_float(req, "soc_percent", False),
            energy_capacity_wh=_float(req, "energy_capacity_wh", False),
            energy_request_wh=_float(req, "energy_request_wh", False)))
    if op == "cable_check":
        return connector.ev_cable_check_request()
    if op == "precharge":
        return connector.ev_precharge_request(_float(req, "target_voltage_v"), _float(req, "target_current_a"))
    if op == "power_delivery":
        return connector.ev_power_delivery(bool(req.get("start")))
    if op == "current_demand":
        return connector.ev_current_demand(CurrentDemand(
            target_voltage_v=_float(req, "target_voltage_v"), target_current_a=_float(req, "target_current_a"),
            soc_percent=_float(req, "soc_percent", False), charging_complete=bool(req.get("charging_complete")),
            max_voltage_v=_float(req, "max_voltage_v", False), max_current_a=_float(req, "max_current_a", False),
            max_power_w=_float(req, "max_power_w", False)))
    if op == "welding_detection":
        return connector.ev_welding_detection()
    if op == "session_stop":
        return connector.ev_stop_session()
    raise ValueError(f"unknown op {op!r}")


class EvLinkServer:
    def __init__(self, connector: Any, host: str, port: int, on_event: EventSink):
        self.connector = connector
        self.host = host
        self.port = port
        self._emit = on_event
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE)
        self.port = self._server.sockets[0].getsockname()[1]
        self._emit(EvLinkListening(self.connector.cfg.id, self.host, self.port))
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):  # a stopped controller answers nobody
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    log.warning("ev link %d: line too long, closing", self.connector.cfg.id)
                    break
                if not line:
                    break
                writer.write((json.dumps(self._handle(line)) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _handle(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("request must be a JSON object")
            return dispatch(self.connector, req).to_json()
        except (ValueError, TypeError) as exc:
            log.warning("ev link %d: bad request: %s", self.connector.cfg.id, exc)
            return {"error": str(exc)}
