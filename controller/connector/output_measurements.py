"""What the drivers measure at the connector's output, read the same way everywhere: the cable voltage, the
output current with its age, and the contactors' feedback."""
from __future__ import annotations

import math

from controller.connector.ports import IoBoardPort, ModuleGroupPort


class OutputMeasurements:
    def __init__(self, io: IoBoardPort, group: ModuleGroupPort) -> None:
        self.io = io
        self.group = group

    def voltage_v(self) -> float:
        """The cable voltage the I/O board measures; the modules' own reading while the board is silent."""
        status = self.io.status
        if status is not None:
            return status.cable_voltage_v
        return self.group.output_voltage_v

    def current(self, now: float) -> tuple[float, float | None]:
        """The output current and when it was measured (None: unknown age).

        The I/O board's cable current when it reports one (measured on the cable, fast); else the modules'
        telemetry, as old as its oldest answering module."""
        st = self.io.status
        cable = getattr(st, "cable_current_a", None) if st is not None else None
        if cable is not None and math.isfinite(cable):
            return abs(cable), getattr(st, "measure_t", None) or getattr(st, "t", None)
        ages = [m["last_seen_age_s"] for m in self.group.module_states()
                if m.get("state") != "lost" and m.get("last_seen_age_s") is not None]
        return abs(self.group.output_current_a), (now - max(ages)) if ages else None

    def contactors_closed(self) -> bool:
        st = self.io.status
        return bool(st and st.dc_plus_closed and st.dc_minus_closed)

    def contactors_open(self) -> bool:
        st = self.io.status
        return bool(st and not st.dc_plus_closed and not st.dc_minus_closed)
