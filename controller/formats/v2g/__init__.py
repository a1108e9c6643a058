"""V2G formats: EXI codec and message types, V2GTP and SDP framing, HomePlug/SLAC frames, PhysicalValue."""
