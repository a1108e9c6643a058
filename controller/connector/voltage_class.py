"""IEC 61851-23 voltage classes: the output voltage above which the EVSE shuts down at once (within 9 ms).

Each class limit is 110 % of the class's rated voltage (PROTOCOL-FACTS section 2). The class of a session is
the lowest one that holds the session's maximum voltage, min(EV maximum, cable maximum): a 420 V car on a
1000 V cable is in the 500 V class and its output must never exceed 550 V.
"""
from __future__ import annotations

# (rated voltage of the class, emergency limit) in rising order
VOLTAGE_CLASSES: tuple[tuple[float, float], ...] = (
    (500.0, 550.0), (750.0, 825.0), (850.0, 935.0), (1000.0, 1100.0), (1250.0, 1375.0),
)


def emergency_limit_v(max_voltage_v: float) -> float:
    """The emergency limit of the lowest class whose rated voltage holds `max_voltage_v` (the top class above)."""
    for rated, limit in VOLTAGE_CLASSES:
        if max_voltage_v <= rated:
            return limit
    return VOLTAGE_CLASSES[-1][1]
