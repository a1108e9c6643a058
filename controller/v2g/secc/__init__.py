"""The SECC: the charger's side of DIN SPEC 70121 and ISO 15118-2 on top of the V2GTP server.

    handshake.py   SupportedAppProtocol: pick DIN or ISO-2 by the car's priority (Tesla's namespace = DIN)
    session.py     SeccSession: one per V2GTP connection (SessionID, message order, timers, malformed EXI)
    handlers/      one small module per request type, mapping it to the connector's EV-session calls
    station.py     SeccStation: the SECC of one connector (link layer, sessions, plug/unplug, faults)
"""
