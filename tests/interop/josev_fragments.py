"""Run with Josev's Python: encodes the four elements an ISO 15118-2 provisioning service signs, each the way
Josev's SECC does before it signs a CertificateInstallationRes (its pydantic models through EXI().to_exi with
the ISO-2 namespace, i.e. its EXIficient codec), and prints the fragments as hex, one per line
("FRAGMENT <hex>": Josev logs to stdout too).

stdin: a JSON list of [element, Id, value] with value a string for eMAID, hex for the others;
ContractSignatureCertChain's value is a list of certificate hex strings (leaf first).
"""
import json
import sys

from iso15118.shared.exi_codec import EXI
from iso15118.shared.exificient_exi_codec import ExificientEXICodec
from iso15118.shared.messages.enums import Namespace
from iso15118.shared.messages.iso15118_2.datatypes import (
    EMAID, CertificateChain, DHPublicKey, EncryptedPrivateKey, SubCertificates,
)
from iso15118.shared.settings import SettingKey, shared_settings


def element(name, element_id, value):
    if name == "eMAID":
        return EMAID(Id=element_id, value=value)
    if name == "DHpublickey":
        return DHPublicKey(Id=element_id, value=bytes.fromhex(value))
    if name == "ContractSignatureEncryptedPrivateKey":
        return EncryptedPrivateKey(Id=element_id, value=bytes.fromhex(value))
    if name == "ContractSignatureCertChain":
        certificates = [bytes.fromhex(c) for c in value]
        subs = SubCertificates(Certificate=certificates[1:]) if certificates[1:] else None
        return CertificateChain(Id=element_id, Certificate=certificates[0], SubCertificates=subs)
    raise SystemExit(f"josev_fragments: unknown element {name}")


def main():
    shared_settings.update({SettingKey.MESSAGE_LOG_JSON: False, SettingKey.MESSAGE_LOG_EXI: False})
    EXI().set_exi_codec(ExificientEXICodec())
    for name, element_id, value in json.load(sys.stdin):
        print("FRAGMENT", EXI().to_exi(element(name, element_id, value), Namespace.ISO_V2_MSG_DEF).hex(), flush=True)


if __name__ == "__main__":
    main()
