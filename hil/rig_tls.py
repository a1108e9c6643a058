"""ISO 15118-2 TLS in a rig run: the SECC's certificate files, the car's V2G root, and their verdict.

A scenario with `v2g_tls` gives the controller a SECC chain and key from the rig's test PKI (in a directory
of this run's own, key mode 0600) through `[v2g.tls]` overrides; the car asks for TLS in SDP and trusts the
PKI's V2G root only. "valid": the PKI's own SECC leaf; "expired" and "untrusted": the broken variants the car
must refuse (hil/pki/rig_pki.py). With --pcap the controller writes its TLS key log (SSLKEYLOGFILE format)
to PCAP.tls-keys: the rig's pcap holds the TLS records as they crossed (hil/ev/tls_stream.py), and
`charger-v2g pcap` and Wireshark decrypt them with that file.
"""
from __future__ import annotations


import json
import shutil
import ssl
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from typing import TYPE_CHECKING

from hil.ev.car_tls import car_tls_context
from hil.scenarios import Scenario, ScenarioRefused

if TYPE_CHECKING:
    from hil.pki.rig_pki import SeccFiles

STATION_CERTIFICATES = ("valid", "expired", "untrusted", "signed-later")
SIGNED_LATER = "signed-later"  # no SECC leaf at start: the CSMS signs one while the station runs (OCPP)
REFUSED_BY_CAR = "refused the station's certificate"


def car_context() -> ssl.SSLContext:
    """The rig car's TLS client: it holds the rig PKI's V2G root (as a real car holds the V2G roots)."""
    from hil.pki.rig_pki import rig_pki  # `cryptography` and key generation: only for a car that asks TLS
    return car_tls_context(rig_pki().v2g_root.cert_pem())


@dataclass
class RigTls:
    station: str
    directory: Path
    files: SeccFiles
    key_log: str = ""
    mo_roots: Path | None = None  # Plug & Charge: the rig PKI's MO root, so the SECC can check contracts

    @classmethod
    def make(cls, station: str, pcap: str | None = None) -> RigTls:
        if station not in STATION_CERTIFICATES:
            raise ValueError(f"unknown SECC certificate {station!r}; known: {', '.join(STATION_CERTIFICATES)}")
        from hil.pki.rig_pki import broken_secc, rig_pki, write_root, write_secc_files
        pki = rig_pki()
        leaf, chain = (pki.secc, pki.secc_chain()) if station in ("valid", SIGNED_LATER) else broken_secc(station)
        directory = Path(tempfile.mkdtemp(prefix="charger-hil-tls-"))
        return cls(station, directory, write_secc_files(directory, leaf, chain),
                   f"{pcap}.tls-keys" if pcap else "", write_root(directory / "mo_roots.pem", pki.mo_root))

    def controller_overrides(self) -> list[str]:
        if self.station == SIGNED_LATER:  # nothing at start ([v2g.tls] key_log and mo_roots need a leaf there)
            return []
        out = [f"v2g.tls.cert_chain={json.dumps(str(self.files.chain))}",
               f"v2g.tls.key={json.dumps(str(self.files.key))}"]
        if self.key_log:
            out.append(f"v2g.tls.key_log={json.dumps(self.key_log)}")
        if self.mo_roots is not None:
            out.append(f"v2g.tls.mo_roots={json.dumps(str(self.mo_roots))}")
        return out

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def rig_tls_for(scenario: Scenario, protocol: str, mode: str, pcap: str | None) -> RigTls | None:
    """The run's TLS material for a scenario with `v2g_tls` (None for others); ScenarioRefused where it
    cannot run: ISO 15118-2 only (DIN 70121 has no TLS), and only with a controller the rig configures."""
    if scenario.v2g_tls is None:
        return None
    if protocol != "iso2":
        raise ScenarioRefused(f"scenario {scenario.name} is ISO 15118-2 over TLS: run it with --protocol iso2 "
                              f"(DIN 70121 has no TLS)")
    if mode == "external":
        raise ScenarioRefused(f"scenario {scenario.name} gives the controller its SECC certificate: the rig must "
                              "start it")
    tls = RigTls.make(scenario.v2g_tls, pcap)
    from hil.csms.role_pnc_revoked import CENTRAL_ROLE
    if scenario.csms == CENTRAL_ROLE:  # no MO root at the station: the CSMS validates contracts
        tls = replace(tls, mo_roots=None)
    return tls


def judge_tls(station: str, report: dict) -> list[str]:
    """A valid station: the first connector's car talked TLS 1.2 (the others may be plain cars). A broken one:
    that car refused it and no energy flowed."""
    problems = []
    first = report["connectors"][0]
    tls = (report.get("v2g", {}).get("tls") or {}).get(first["connector"], "")
    if station in ("valid", SIGNED_LATER):
        if not tls.startswith("TLSv1.2 "):
            problems.append(f"connector {first['connector']}'s V2G connection was not TLS 1.2: {tls or 'plain'}")
        return problems
    if REFUSED_BY_CAR not in first["car"]["reason"]:
        problems.append(f"the car did not refuse the {station} SECC certificate: {first['car']['reason']!r}")
    if first["energy_kwh"] > 0.0 or first["rig_energy_kwh"] > 0.0:
        problems.append(f"energy flowed ({first['rig_energy_kwh']} kWh) although the car refused the station")
    return problems
