"""OCPP 2.0.1 smart charging (functional block K): charging profiles, their validation and store, the composite
schedule per EVSE, and the limits that reach the connectors (controller/connector/limits.py's external hook).

profiles.py   the profile as data (parsed from the CSMS's camelCase JSON) and the limit it sets at a time
validation.py the spec's rejections of SetChargingProfile
composite.py  the composite schedule: station maximum x (TxProfile or TxDefaultProfile), by stack level
station_split.py  how a station-wide limit is shared over the EVSEs in use
installed.py  the installed profiles (store-backed), Set / Clear / Get
variables.py  SmartChargingCtrlr in the device model
desk.py       the service's side: the handlers' work, the reports, the limits fed to the connectors
"""
