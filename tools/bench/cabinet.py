"""The bench's cabinet: the HIL runner's scenario run, brought up without driving its scenario.

Layouts: `in_process` (controller app in this event loop, the rig's own loop work shares it) or
`separate_process` (`charger-controller` as a child process; needs a CAN channel both processes share,
i.e. udp_multicast inside a private namespace). Either way the controller is seen only through its events
and the wires, as the HIL runner sees it: start, stop and the cars are the runner's own (hil/runner.py).

OCPP: by default the cabinet is linked to the rig's CSMS simulator over TLS (security profile 2, the rig's
test CA), as the product's goals are set "with OCPP over TLS"; the CSMS answers and checks every frame
(`ocpp_link` says what crossed the link). `ocpp_profile=None` runs without OCPP.
"""
from __future__ import annotations

from typing import Any

from hil.csms.rig_role import with_ocpp
from hil.ev.car import CarPlan
from hil.runner import ScenarioRun, _wait_for
from hil.scenarios import SCENARIOS
from hil.setup import load_setup
from tools.bench.modbus_tap import ModbusTap

LAYOUTS = ("in_process", "separate_process")
START_TIMEOUT_S = 15.0
CHARGING_TIMEOUT_S = 20.0
SCENARIO = "dc-session"  # only its refusal rules apply: the bench plugs the cars itself
OCPP_ACCEPTED_TIMEOUT_S = 10.0
OCPP_PROFILE = 2  # TLS (CSMS certificate checked against the rig's test root) + basic auth

wait_until = _wait_for  # the runner's polling wait, for the benches' own conditions


class BenchCabinet(ScenarioRun):
    def __init__(self, setup_name: str, layout: str, can_override: tuple[str, str] | None = None,
                 tap_imds: bool = False, ocpp_profile: int | None = OCPP_PROFILE):
        """`tap_imds`: put a ModbusTap between the controller and each IMD simulator (see `imd_taps`).
        `ocpp_profile`: the security profile to the rig's CSMS; None: no OCPP."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        scenario = SCENARIOS[SCENARIO] if ocpp_profile is None else with_ocpp(SCENARIOS[SCENARIO], ocpp_profile)
        super().__init__(scenario, load_setup(setup_name), separate_process=layout == "separate_process",
                         can_override=can_override, start_timeout_s=START_TIMEOUT_S, record_series=False,
                         before_controller=self._tap_imds if tap_imds else None)
        self.layout = layout
        self.imd_taps: dict[int, ModbusTap] = {}

    @property
    def connector_ids(self) -> list[int]:
        return [c.id for c in self.setup.cabinet_config.connectors]

    @property
    def pid(self) -> int | None:
        proc = getattr(self.controller, "proc", None)
        return proc.pid if proc is not None else None

    async def start(self) -> None:
        """Rig and controller up, every connector available and, with OCPP, the link accepted: the CSMS has had
        the StatusNotification of every connector, which follows BootNotification Accepted."""
        await super().start()
        if self.csms is not None:
            sim = self.csms.csms
            await wait_until(lambda: len(sim.calls("StatusNotification")) >= len(self.connector_ids),
                             OCPP_ACCEPTED_TIMEOUT_S, "the OCPP link accepted by the rig's CSMS")

    def ocpp_link(self) -> dict[str, Any]:
        """What crossed the OCPP link so far, for a figure's results ({"enabled": False} without OCPP)."""
        return ocpp_link_summary(self.csms)

    async def _tap_imds(self, _run: ScenarioRun) -> list[str]:
        overrides = []
        for index, conn in enumerate(self.setup.cabinet_config.connectors):
            sim = self.rig.imd_sims.get(conn.id)
            if sim is not None:
                tap = self.imd_taps[conn.id] = ModbusTap(sim.port)
                overrides.append(f"connectors[{index}].imd.link.port={await tap.start()}")  # the last one wins
        return overrides

    async def charge(self) -> None:
        """Plug a car into every connector and wait until all of them charge."""
        car_cfg = self.setup.car
        plan = CarPlan(target_soc=car_cfg.target_soc, request_period_s=car_cfg.request_period_s)
        tasks = {cid: self.plug_car(cid, plan) for cid in self.connector_ids}

        def all_charging() -> bool:
            for cid, task in tasks.items():
                if self.cars[cid].charging_started_t is None and task.done():
                    raise RuntimeError(f"car on connector {cid} ended before charging: {task.result().reason}")
            return all(self.cars[cid].charging_started_t is not None for cid in tasks)
        await wait_until(all_charging, CHARGING_TIMEOUT_S, "every car charging")

    async def close(self) -> None:
        """Cars cancelled, controller, rig and taps down."""
        try:
            await self.stop()
        finally:
            for tap in self.imd_taps.values():
                await tap.stop()


def ocpp_link_summary(csms) -> dict[str, Any]:
    """A RigCsms's link in a few numbers: a figure says with them that it was measured with OCPP connected."""
    if csms is None:
        return {"enabled": False}
    sim = csms.csms
    return {"enabled": True, "security_profile": csms.profile, "transport": "wss" if sim.tls is not None else "ws",
            "boot_notifications": len(sim.calls("BootNotification")),
            "transaction_events": len(sim.calls("TransactionEvent")),
            "frames": len(sim.traffic), "schema_violations": len(sim.violations)}
