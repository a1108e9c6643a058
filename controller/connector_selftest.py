"""The technician's hardware self-test of one idle connector (no car connected); the console asks for it.

The connector is taken out of service for the test (so no car can start a session meanwhile; the store
books the short outage) and put back as it was. Steps: the I/O board answers; the DC contactors close
and open again with matching feedback (modules stay off, so the cable is dead); every power module
answers without a fault; the meter has a fresh reading and the IMD passes its own self-test, when they
are configured. The contactors are commanded open at the end whatever happened.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from controller.connector.connector import Connector
from controller.console.cabinet_view import SelfTestRefused, StepSink
from controller.hw.imd import InsulationMonitor
from controller.hw.meter import EnergyMeter
from controller.hw.power.group import PowerModuleGroup

IDLE_STATES = ("available", "unavailable")
FAULT_STATES = ("emergency", "error_shutdown")
CAR_CP_STATES = ("B", "C", "D")
FEEDBACK_POLL_S = 0.02
IMD_SELFTEST_TIMEOUT_S = 20.0


class CarPlugged(Exception):
    pass


class ConnectorSelfTest:
    """Owns the hardware steps; reports each one to `on_step` as it ends."""

    def __init__(self, connector: Connector, group: PowerModuleGroup, meter: EnergyMeter | None,
                 imd: InsulationMonitor | None, feedback_timeout_s: float):
        self.connector = connector
        self.group = group
        self.meter = meter
        self.imd = imd
        self.feedback_timeout_s = feedback_timeout_s

    def check_idle(self) -> None:
        c = self.connector
        cid = c.cfg.id
        if c.cp_state in CAR_CP_STATES or c.session is not None:
            raise SelfTestRefused(f"connector {cid} is {c.state} with CP {c.cp_state}: "
                                  f"the selftest needs no car connected")
        if c.state in FAULT_STATES:
            faults = ", ".join(c.active_faults) or "none left"
            raise SelfTestRefused(f"connector {cid} is in {c.state} (faults: {faults}): remove the cause and clear "
                                  f"the faults first (clear {cid}); the selftest runs on an idle connector")
        if c.state not in IDLE_STATES:
            raise SelfTestRefused(f"connector {cid} is {c.state}: the selftest runs on an idle connector")

    async def run(self, on_step: StepSink) -> list[dict]:
        self.check_idle()
        c = self.connector
        steps: list[dict] = []

        def step(name: str, ok: bool, detail: str) -> None:
            steps.append({"step": name, "ok": ok, "detail": detail})
            on_step(name, ok, detail)

        was_enabled, was_maintenance = c.enabled, c.maintenance
        c.set_enabled(False, maintenance=True)  # a technician's test on site: maintenance, excluded from uptime
        try:
            online = bool(c.io.online)
            step("io_board", online, f"online, CP {c.cp_state}" if online else "no status from the I/O board")
            if online:
                await self._contactors(step)
            self._modules(step)
            await self._devices(step)
        except CarPlugged:
            step("aborted", False, "a car was plugged in during the test")
        finally:
            c.open_contactors()
            if was_enabled:
                c.set_enabled(True)
            else:
                c.maintenance = was_maintenance
        return steps

    async def _contactors(self, step: StepSink) -> None:
        c, timeout = self.connector, self.feedback_timeout_s
        c.close_contactors_for_test()  # modules off, no car: the connector's own guard for this test
        took = await self._wait(c.io_contactors_closed, timeout)
        step("close", took is not None, f"closed feedback after {took * 1000:.0f} ms" if took is not None
             else f"no closed feedback in {timeout} s")
        c.open_contactors()
        took = await self._wait(c.io_contactors_open, timeout)
        step("open", took is not None,
             f"open feedback after {took * 1000:.0f} ms" if took is not None else f"still closed after {timeout} s")

    async def _wait(self, condition: Callable[[], bool], timeout: float) -> float | None:
        """Seconds until `condition` held, or None after `timeout`; stops at once if a car is plugged in."""
        start = time.monotonic()
        while True:
            if self.connector.cp_state in CAR_CP_STATES:
                raise CarPlugged()
            if condition():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                return None
            await asyncio.sleep(FEEDBACK_POLL_S)

    def _modules(self, step: StepSink) -> None:
        for m in self.group.module_states():
            ok = m["state"] == "ok"
            seen = "never heard" if m["last_seen_age_s"] is None else f"answered {m['last_seen_age_s']:.1f} s ago"
            flags = f", flags {','.join(m['flags'])}" if m["flags"] else ""
            step(f"module {m['address']:#04x}", ok, f"{m['state']}, {seen}{flags}")

    async def _devices(self, step: StepSink) -> None:
        if self.meter is not None:
            fresh = bool(self.meter.fresh)
            step("meter", fresh, "fresh reading" if fresh else "no fresh reading")
        if self.imd is not None:
            passed = await self.imd.self_test(timeout_s=IMD_SELFTEST_TIMEOUT_S)
            step("imd", bool(passed), "self-test passed" if passed else "self-test failed")
