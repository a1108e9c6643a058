"""Prices known before a session and fixed for it (NEVI 23 CFR 680.116(a), California's display rules).

tariff.py: a Tariff and a session's cost (Decimal); price_book.py: each connector's price offered, fixed and
applied, from the app's events; display.py: the narrow interface a screen uses. No OCPP import: the OCPP
service feeds it (controller/ocpp/tariff_cost.py). docs/pricing.md says how it fits together.
"""
