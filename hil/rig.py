"""The rig: simulators for the I/O boards and power modules on the cabinet's CAN buses, the plant
physics, and one simulated car per connector. It meets the controller only on the wires."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from hil.ev.battery import BatteryModel
from hil.ev.car import SimulatedCar
from hil.ev.charge_curves import TIME_SCALE, car_model
from hil.ev.evcc.link import V2gEvLink
from hil.plant import ConnectorPlant, ModuleModel
from hil.setup import RigSetup
from hil.sim.imd import ImdSim
from hil.sim.io_board import IoBoardSim
from hil.sim.matrix_circuit import RigMatrixCircuit
from hil.sim.meter import MeterSim
from hil.sim.power_matrix import PowerMatrixSim
from hil.wires.can import RigCanBus, open_bus
from hil.sim.power_vendors import SIMULATORS


class Rig:
    def __init__(self, setup: RigSetup, can_override: tuple[str, str] | None = None,
                 clock=time.monotonic, modbus_base_port: int = 0):
        self.setup = setup
        self.cabinet = setup.cabinet_config
        self.clock = clock
        self._can_override = can_override
        self.ports: dict[str, RigCanBus] = {}
        self.plants: dict[int, ConnectorPlant] = {}
        self.io_sims: dict[int, IoBoardSim] = {}
        self.module_models: dict[int, list[ModuleModel]] = {}
        self.module_sim = None
        self.matrix_sim: PowerMatrixSim | None = None  # a cabinet with a [power.matrix] (hil/sim/power_matrix.py)
        self.matrix_circuit: RigMatrixCircuit | None = None
        self.meter_sims: dict[int, MeterSim] = {}
        self.imd_sims: dict[int, ImdSim] = {}
        self._modbus_base_port = modbus_base_port
        self._tasks: list[asyncio.Task] = []
        self._build()

    def port(self, name: str) -> RigCanBus:
        cfg = self.cabinet.can[name]
        if self._can_override:
            cfg = replace(cfg, interface=self._can_override[0], channel=self._can_override[1])
        key = f"{cfg.interface}:{cfg.channel}"
        if key not in self.ports:
            self.ports[key] = open_bus(f"rig-{name}", cfg.interface, cfg.channel, cfg.bitrate, cfg.options)
        return self.ports[key]

    def _build(self) -> None:
        m = self.setup.modules
        all_models: list[ModuleModel] = []
        matrix = self.cabinet.power.matrix
        for conn in self.cabinet.connectors:
            models = [
                ModuleModel(address=a, max_voltage_v=m.max_voltage_v, min_voltage_v=m.min_voltage_v,
                            max_current_a=m.max_current_a, max_power_w=m.max_power_kw * 1000.0,
                            slew_v_per_s=m.slew_v_per_s, comm_timeout_s=m.comm_timeout_s)
                for a in (self.cabinet.group(conn.group).addresses if matrix is None else ())
            ]  # with a matrix, a plant has the modules of the groups its contacts connect (none at first)
            self.module_models[conn.id] = models
            all_models.extend(models)
            plant = ConnectorPlant(connector_id=conn.id, modules=list(models))
            self.plants[conn.id] = plant
            if matrix is not None:  # the modules on this output now: the matrix moves them in and out of this list
                self.module_models[conn.id] = plant.modules
            self.io_sims[conn.id] = IoBoardSim(self.port(conn.io_can), plant, connector_id=conn.id,
                                               watchdog_s=self.setup.board_watchdog_s, clock=self.clock)
        if matrix is not None:
            groups = [[ModuleModel(address=a, max_voltage_v=m.max_voltage_v, min_voltage_v=m.min_voltage_v,
                                   max_current_a=m.max_current_a, max_power_w=m.max_power_kw * 1000.0,
                                   slew_v_per_s=m.slew_v_per_s, comm_timeout_s=m.comm_timeout_s)
                       for a in group.addresses] for group in self.cabinet.power.groups]
            all_models.extend(model for group in groups for model in group)
            circuit = RigMatrixCircuit(self.plants, groups)
            self.matrix_sim = PowerMatrixSim(self.port(matrix.can), circuit, len(groups), clock=self.clock,
                                             on_contact=circuit.move)
            self.matrix_circuit = circuit
        self.module_sim = SIMULATORS[m.vendor](self.port(self.cabinet.power.can), all_models, clock=self.clock)
        for conn in self.cabinet.connectors:
            plant = self.plants[conn.id]
            if conn.meter is not None:
                self.meter_sims[conn.id] = MeterSim(plant, model=conn.meter.model, unit_id=conn.meter.unit_id)
            if conn.imd is not None:
                self.imd_sims[conn.id] = ImdSim(plant, model=conn.imd.model, unit_id=conn.imd.unit_id,
                                                clock=self.clock)

    def new_battery(self, soc: float | None = None) -> BatteryModel:
        c = self.setup.car
        return BatteryModel(
            capacity_wh=c.capacity_kwh * 1000.0, soc_percent=c.initial_soc if soc is None else soc,
            ocv_empty_v=c.ocv_empty_v, ocv_full_v=c.ocv_full_v,
            internal_resistance_ohm=c.internal_resistance_ohm, max_voltage_v=c.max_voltage_v,
            max_current_a=c.max_current_a, taper_start_percent=c.taper_start_soc)

    def new_car(self, connector_id: int, link: V2gEvLink, model: str | None = None,
                time_scale: float = TIME_SCALE) -> SimulatedCar:
        """A car on connector `connector_id` that speaks V2G over `link` (hil.ev.evcc.rig_link.RigV2gLink.car_link):
        the setup's [car], or a model with a charge curve (hil/ev/charge_curves.py) whose battery is scaled down
        by `time_scale`."""
        sim = self.io_sims[connector_id]
        battery = self.new_battery() if model is None else car_model(model).battery(time_scale=time_scale)
        return SimulatedCar(self.plants[connector_id], battery, link,
                            cp_duty=lambda: sim.commanded_duty, clock=self.clock)

    async def _start_modbus(self) -> None:
        """Serve each meter and IMD on loopback: ports of the system's choosing, or base + 2 i (+1)."""
        for index, conn in enumerate(self.cabinet.connectors):
            base = self._modbus_base_port + 2 * index if self._modbus_base_port else 0
            if conn.id in self.meter_sims:
                await self.meter_sims[conn.id].start_tcp("127.0.0.1", base)
            if conn.id in self.imd_sims:
                await self.imd_sims[conn.id].start_tcp("127.0.0.1", base + 1 if base else 0)

    def config_overrides(self) -> list[str]:
        """The controller config keys that point its Modbus links at the rig's simulators."""
        out = []
        for index, conn in enumerate(self.cabinet.connectors):
            for kind, sims in (("meter", self.meter_sims), ("imd", self.imd_sims)):
                if conn.id in sims:
                    out += [f"connectors[{index}].{kind}.link.host=\"127.0.0.1\"",
                            f"connectors[{index}].{kind}.link.port={sims[conn.id].port}"]
        return out

    async def start(self) -> None:
        await self._start_modbus()
        loop = asyncio.get_running_loop()
        for sim in self.io_sims.values():
            sim.attach()
        self.module_sim.attach()
        if self.matrix_sim is not None:
            self.matrix_sim.attach()
            self._tasks.append(asyncio.create_task(self.matrix_sim.run(), name="matrix-sim"))
        for port in self.ports.values():
            port.start(loop)
        for cid, sim in self.io_sims.items():
            self._tasks.append(asyncio.create_task(sim.run(), name=f"io-sim-{cid}"))
        self._tasks.append(asyncio.create_task(self.module_sim.run(), name="module-sims"))
        self._tasks.append(asyncio.create_task(self._physics(), name="physics"))

    async def _physics(self) -> None:
        last = self.clock()
        while True:
            await asyncio.sleep(self.setup.tick_s)
            now = self.clock()
            dt, last = min(0.1, now - last), now
            for plant in self.plants.values():
                plant.step(dt)
            if self.matrix_circuit is not None:
                self.matrix_circuit.step_open(dt)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for port in self.ports.values():
            port.close()
        for sim in [*self.meter_sims.values(), *self.imd_sims.values()]:
            await sim.stop()

    # ---- what a bus observer sees ------------------------------------------------------------------
    def final_state(self, connector_id: int) -> dict:
        plant = self.plants[connector_id]
        return {
            "contactors_closed": plant.dc_plus_closed or plant.dc_minus_closed,
            "modules_on": any(m.on for m in plant.modules),  # with a matrix: the groups on it now
            "output_current_a": round(plant.output_current_a, 2),
        }
