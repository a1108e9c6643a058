"""The CAN payload definitions (`*.dbc`), shipped as package data so an installed controller finds them.

Read them through `controller.formats.can.dbc.load_dbc(name)`, never by a path relative to a source checkout.
"""
