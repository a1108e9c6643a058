"""The rig's own controls for the plant while it holds (`charger-hil run --hold`): one command a line on
standard input, so a technician can rehearse a fault call end to end against the controller's console.

  status                      every connector: controller phase, CP, V, A, SoC, e-stop
  estop press|release [N]     the cabinet's emergency stop button on connector N's I/O board
  plug [N] [SOC]              a car plugs in (at SOC %, default the setup's) and charges to the target
  unplug [N]                  the car is unplugged
  soc [N] PERCENT             the SoC of the car on connector N (or of the next car plugged there)
  help, quit                  this list; end the hold (as Ctrl-C does)

N defaults to the first connector. The controller is reached only through the wires, as always: these
commands act on the rig's simulators and cars, never on the controller.
"""
from __future__ import annotations

import asyncio
import os
import stat
import sys
from dataclasses import replace
from typing import Callable

from hil.ev.car import CarPlan

HELP = __doc__.split("\n\n")[1]


class ControlError(ValueError):
    pass


class PlantControls:
    def __init__(self, run, write: Callable[[str], None]):
        self.run = run
        self.write = write
        self.ids = [c.id for c in run.setup.cabinet_config.connectors]
        self.next_soc: dict[int, float] = {}
        self.car_tasks: dict[int, asyncio.Task] = {}
        self.done = asyncio.Event()

    # ---- one line ---------------------------------------------------------------------------------
    def handle(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        name, args = words[0].lower(), words[1:]
        handler = {"help": self._help, "status": self._status, "estop": self._estop, "plug": self._plug,
                   "unplug": self._unplug, "soc": self._soc, "quit": self._quit}.get(name)
        try:
            if handler is None:
                raise ControlError(f"unknown command {name[:20]!r}; type help")
            self.write(handler(args))
        except ControlError as exc:
            self.write(f"error: {exc}")

    def _connector(self, args: list[str], index: int = 0) -> int:
        if len(args) <= index:
            return self.ids[0]
        text = args[index]
        if not text.isdigit() or int(text) not in self.ids:
            raise ControlError(f"no connector {text[:10]!r} (connectors: {', '.join(map(str, self.ids))})")
        return int(text)

    @staticmethod
    def _percent(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ControlError(f"{text[:10]!r} is not a number") from None
        if not 0.0 <= value < 100.0:
            raise ControlError("a SoC is from 0 up to 100 %")
        return value

    def _help(self, args: list[str]) -> str:
        return HELP

    def _quit(self, args: list[str]) -> str:
        self.done.set()
        return "ending the hold"

    def _status(self, args: list[str]) -> str:
        lines = []
        for cid in self.ids:
            plant, board = self.run.rig.plants[cid], self.run.rig.io_sims[cid]
            car = self.run.cars.get(cid)
            soc = f"{car.battery.soc_percent:5.1f} %" if car is not None and plant.ev_cp_state != "A" else "no car"
            phase = self.run.state.states.get(cid, "?") if self.run.controller.reports_events else "-"
            lines.append(f"connector {cid}: {phase}, CP {plant.ev_cp_state}, {plant.cable_voltage_v:.1f} V "
                         f"{plant.output_current_a:.1f} A, SoC {soc}, e-stop {'PRESSED' if board.estop else 'released'}")
        return "\n".join(lines)

    def _estop(self, args: list[str]) -> str:
        if not args or args[0] not in ("press", "release"):
            raise ControlError("estop press|release [CONNECTOR]")
        cid = self._connector(args, 1)
        board = self.run.rig.io_sims[cid]
        if args[0] == "press":
            board.press_estop()
            return f"connector {cid}: e-stop pressed"
        board.release_estop()
        return f"connector {cid}: e-stop released (the fault stays latched until a technician clears it)"

    def _plug(self, args: list[str]) -> str:
        cid = self._connector(args)
        if len(args) > 1:
            self.next_soc[cid] = self._percent(args[1])
        if self.run.rig.plants[cid].ev_cp_state != "A":
            raise ControlError(f"connector {cid}: a car is plugged in already; unplug it first")
        run = self.run
        try:
            link = run.v2g.car_link(cid)
        except RuntimeError as exc:  # the controller has not announced this connector's SECC
            raise ControlError(str(exc)) from None
        car = run.rig.new_car(cid, link)
        soc = self.next_soc.pop(cid, run.setup.car.initial_soc)
        target = max(run.setup.car.target_soc, min(100.0, soc + 5.0))
        car.battery.soc_percent = soc
        run.cars[cid] = car
        plan = replace(CarPlan(target_soc=target, request_period_s=run.setup.car.request_period_s),
                       phase_timeout_s=3600.0)  # a technician may take a while to clear a fault
        task = asyncio.create_task(car.run(plan), name=f"hold-car-{cid}")
        task.add_done_callback(lambda t, cid=cid, car=car: self._car_done(cid, car, t))
        self.car_tasks[cid] = task
        return f"connector {cid}: car plugged in at {soc:.1f} % SoC, charging to {target:.0f} %"

    def _car_done(self, cid: int, car, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        outcome = task.exception() or task.result()
        reason = getattr(outcome, "reason", repr(outcome))
        left = "; the car has unplugged" if self.run.rig.plants[cid].ev_cp_state == "A" else ""
        self.write(f"connector {cid}: the car's session ended: {reason} (SoC {car.battery.soc_percent:.1f} %){left}")

    def _unplug(self, args: list[str]) -> str:
        cid = self._connector(args)
        car = self.run.cars.get(cid)
        if car is None or self.run.rig.plants[cid].ev_cp_state == "A":
            raise ControlError(f"connector {cid}: no car plugged in")
        car.unplug()
        task = self.car_tasks.pop(cid, None)
        if task is not None and not task.done():
            task.cancel()
        return f"connector {cid}: car unplugged"

    def _soc(self, args: list[str]) -> str:
        if not args:
            raise ControlError("soc [CONNECTOR] PERCENT")
        cid = self._connector(args[:-1])
        value = self._percent(args[-1])
        car = self.run.cars.get(cid)
        if car is not None and self.run.rig.plants[cid].ev_cp_state != "A":
            car.battery.soc_percent = value
            return f"connector {cid}: the car's SoC is now {value:.1f} %"
        self.next_soc[cid] = value
        return f"connector {cid}: the next car plugs in at {value:.1f} % SoC"

    # ---- the loop ---------------------------------------------------------------------------------
    async def serve(self, stop: asyncio.Event) -> None:
        """Read commands from standard input until `stop` or quit; at the end of input keep holding."""
        if not _pollable(sys.stdin):  # /dev/null, a file, closed: no controls, hold until interrupted
            await asyncio.wait([asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.done.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            return
        reader = asyncio.StreamReader(limit=4096)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        except (ValueError, OSError, AttributeError):  # stdin a file, closed or None: hold until interrupted
            await stop.wait()
            return
        try:
            while not stop.is_set() and not self.done.is_set():
                line_task = asyncio.ensure_future(reader.readline())
                waiters = [line_task, asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.done.wait())]
                finished, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                if line_task not in finished:
                    break
                try:
                    raw = line_task.result()
                except ValueError:  # a line over the limit
                    self.write("error: line too long")
                    continue
                if not raw:  # end of input: the controls are gone, the hold goes on
                    await asyncio.wait([asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.done.wait())],
                                       return_when=asyncio.FIRST_COMPLETED)
                    break
                self.handle(raw.decode("utf-8", "replace"))
        finally:
            transport.close()
            for task in self.car_tasks.values():
                task.cancel()
            await asyncio.gather(*self.car_tasks.values(), return_exceptions=True)


def _pollable(stream) -> bool:
    """A terminal, pipe or socket: what the event loop can wait on (epoll refuses files and /dev/null)."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (AttributeError, ValueError, OSError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(stream.fileno())


async def hold_with_controls(report: dict, run) -> None:
    """After the scenario: keep controller and rig running (console, CAN) with the plant controls on standard
    input, until quit, SIGINT or SIGTERM."""
    lines = [f"scenario {report['scenario']}: {report['result']} - holding; plant controls on standard input "
             "(help), Ctrl-C or quit to stop"]
    if run.console_link:
        pin = f" --pin-file {run.console_pin.path}" if run.console_pin is not None else ""
        lines.append(f"service console: charger-console{pin} {run.console_link}")
    print("\n".join(lines), flush=True)
    stop = run.hold_stop = asyncio.Event()  # set by the Ctrl-C handler of hil/interrupted_run.py
    try:
        await PlantControls(run, lambda text: print(text, flush=True)).serve(stop)
    finally:
        run.hold_stop = None
