"""Fault injection at the wires: `charger-hil run --inject KIND@PHASE`, `charger-hil inject-list`."""
