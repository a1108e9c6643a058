"""The rig's test PKI for ISO 15118-2 (V2G, MO and OEM chains), generated with `cryptography`."""
