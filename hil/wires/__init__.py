"""The rig's own ends of the wires: CAN buses, Ethernet frame links, IPv6 helpers.

Written apart from the controller's transports on purpose: a bug in one side's transport then shows as a
failure at the wire instead of being on both sides of it.
"""
