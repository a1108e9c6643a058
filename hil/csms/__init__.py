"""The rig's CSMS: an OCPP 2.0.1 central system on the `ocpp` package's server side (see simulator.py)."""
from hil.csms.simulator import CsmsSimulator, SchemaViolation

__all__ = ["CsmsSimulator", "SchemaViolation"]
