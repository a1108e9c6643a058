"""Plug & Charge contracts (ISO 15118-2): the car's contract certificate checked against the MO roots.

    validation.py  ContractValidator: chain, validity, key usage, eMAID -> OK or the ISO-2 FAILED code
    mo_roots.py    where the MO roots come from ([v2g.tls] mo_roots, and OCPP's installed MORootCertificate)
"""
