"""Packet captures: pcap/pcapng reading and writing, and the dissector from Ethernet frames to V2G messages."""
