"""The rig's car over real V2G (EVCC): DIN SPEC 70121 and ISO 15118-2 DC sequences.

`V2gEvLink` carries the car's requests (DIN or ISO-2 message types, built by `RequestBuilder`) and gives back the
decoded responses; `hil.ev.car.SimulatedCar` drives the session on them and keeps the plug, CP and contactor
handling. Car profiles (offered protocols, quirks) are TOML files in hil/ev/profiles.
"""
