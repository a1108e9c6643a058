"""The rig's car over real V2G (EVCC): DIN SPEC 70121 and ISO 15118-2 DC sequences.

`V2gEvLink` speaks the same small interface as the stand-in JSON link (`hil.ev.link.EvLinkClient`:
connect / request(op, **fields) -> answer dict / close), so `hil.ev.car.SimulatedCar` drives either one and
keeps the plug, CP and contactor handling. Car profiles (offered protocols, quirks) are TOML files in
hil/ev/profiles.
"""
