"""`secc-certificate`: the rig's CSMS renews the station's SECC leaf over OCPP before any car plugs in.

It installs the rig PKI's V2G root (InstallCertificate V2GRootCertificate), asks for a CSR (TriggerMessage
SignV2GCertificate), signs it with the CPO sub-CA 2 (hil/csms/secc_signing.py) and sends the chain
(CertificateSigned V2GCertificate). The car then asks for TLS: the scenario's test checks that the leaf it was
shown is the new one (report v2g.tls_leaf), which the station swapped in without a restart.

`secc-certificate-first`: the station starts with no SECC leaf at all and asks for one itself (SignCertificate
at its start); the CSMS signs that CSR, and the car then charges over TLS with no restart between.
"""
from __future__ import annotations

from ocpp.v201 import call

from hil.csms.secc_signing import sign_secc_csr

ROLE = "secc-certificate"
FIRST_ROLE = "secc-certificate-first"


class SeccCertificateRole:
    def __init__(self, csms, station: str, first: bool = False):
        self.csms = csms
        self.first = first  # the station has no leaf and asks at its start: no TriggerMessage
        self.station = station
        self.serial = ""  # the new leaf's serial, hex as ssl shows it
        self.statuses: dict[str, str] = {}
        self.problems: list[str] = []

    async def before_cars(self, timeout_s: float) -> None:
        from cryptography import x509
        from hil.pki.rig_pki import rig_pki

        pki = rig_pki()
        await self.csms.wait_for(lambda: self.station in self.csms.stations and self.csms.calls("StatusNotification"),
                                 timeout_s)
        peer = self.csms.peer(self.station)
        root = await peer.call(call.InstallCertificate(certificate_type="V2GRootCertificate",
                                                       certificate=pki.v2g_root.cert_pem().decode()))
        self.statuses["InstallCertificate"] = root.status
        if self.first:
            asked = await self.csms.wait_for(lambda: [c["csr"] for c in self.csms.calls("SignCertificate")
                                                      if c.get("certificateType") == "V2GCertificate"], timeout_s)
            chain = sign_secc_csr(pki, asked[0])
        else:
            asked = len(self.csms.csrs)
            trigger = await self.csms.trigger(self.station, "SignV2GCertificate")
            self.statuses["TriggerMessage"] = trigger.status
            csrs = await self.csms.wait_for(lambda: self.csms.csrs[asked:], timeout_s)
            chain = sign_secc_csr(pki, csrs[-1])
        signed = await peer.call(call.CertificateSigned(certificate_chain=chain, certificate_type="V2GCertificate"))
        self.statuses["CertificateSigned"] = signed.status
        self.serial = format(x509.load_pem_x509_certificate(chain.encode()).serial_number, "X")
        self.problems += [f"{action} answered {status}" for action, status in self.statuses.items()
                          if status != "Accepted"]

    def report(self) -> dict:
        return {"serial": self.serial, "statuses": dict(self.statuses), "problems": list(self.problems)}
