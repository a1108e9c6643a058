"""charger-v2g: decode and encode V2G EXI messages, dissect pcap/pcapng captures of charging sessions.

    charger-v2g decode --schema din 809a0200...     message as JSON {"type": ..., "fields": ...}
    charger-v2g encode --schema din '{"type": ...}'  (or @file.json) hex of the EXI bytes
    charger-v2g pcap session.pcapng [--json] [--tls-keys KEYLOG]
                                                    SLAC, SDP and V2G messages in order (tcp: which connection);
                                                    TLS decrypted with an SSLKEYLOGFILE (default FILE.tls-keys)

Bad input ends with exit status 2 and one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from controller.formats.v2g import exi, v2gtp
from controller.formats.capture.dissect import CaptureDissector, DissectedMessage, dissect
from controller.formats.capture.pcap import CaptureError, read_packets
from tools.capture.summary import summarize

EXIT_BAD_INPUT = 2
_DIRECTIONS = {True: "EV->EVSE", False: "EVSE->EV", None: "local"}


class InputError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="charger-v2g", description="V2G EXI codec and capture dissector.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    decode = commands.add_parser("decode", help="decode EXI hex (a leading V2GTP header is skipped)")
    decode.add_argument("--schema", required=True, choices=exi.SCHEMAS)
    decode.add_argument("hex", help="the EXI payload as hex; spaces and colons are ignored")
    encode = commands.add_parser("encode", help='encode {"type": ..., "fields": ...} to EXI hex')
    encode.add_argument("--schema", required=True, choices=exi.SCHEMAS)
    encode.add_argument("json", help="the message as JSON text, or @path to a JSON file")
    pcap = commands.add_parser("pcap", help="dissect a pcap or pcapng capture")
    pcap.add_argument("file", type=Path)
    pcap.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    pcap.add_argument("--tls-keys", type=Path, metavar="KEYLOG",
                      help="SSLKEYLOGFILE to decrypt ISO-2 TLS connections (default: FILE.tls-keys if it exists)")
    return parser


def _decode(schema: str, text: str) -> str:
    cleaned = "".join(text.split()).replace(":", "")
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise InputError(f"not hexadecimal: {text[:40]!r}") from None
    if data.startswith(v2gtp.HEADER_MAGIC) and len(data) >= v2gtp.HEADER_LENGTH:
        try:
            _, data = v2gtp.parse_frame(data)
        except v2gtp.V2gtpError as exc:
            raise InputError(str(exc)) from None
    try:
        message = exi.decode(schema, data)
    except exi.ExiError as exc:
        raise InputError(f"cannot decode as {schema}: {exc}") from None
    document = {"type": exi.message_type(message), "fields": exi.to_json(message)}
    if message.warnings:  # decoded although the schema forbids these values; encoding them is refused
        document["warnings"] = [str(warning) for warning in message.warnings]
    return json.dumps(document, indent=2)


def _encode(schema: str, text: str) -> str:
    document = _load_json(text)
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise InputError('expected a JSON object {"type": "<message name>", "fields": {...}}')
    fields = document.get("fields", {})
    if not isinstance(fields, dict):
        raise InputError('"fields" must be a JSON object')
    try:
        return exi.encode(schema, exi.from_json(schema, document["type"], fields)).hex()
    except (ValueError, KeyError, TypeError) as exc:  # the codec's reasons for refusing a message
        raise InputError(f"cannot encode {document['type']} as {schema}: {exc}") from None


def _load_json(text: str) -> Any:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {text[1:]}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}") from None


def _pcap(path: Path, as_json: bool, tls_keys: Path | None = None) -> None:
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    beside = path.with_name(path.name + ".tls-keys")
    keys = {}
    if tls_keys is not None or beside.is_file():
        from controller.formats.capture.tls12 import TlsKeyLogError, read_key_log
        try:
            keys = read_key_log(tls_keys or beside)
        except TlsKeyLogError as exc:
            raise InputError(str(exc)) from None
    dissector = CaptureDissector(tls_keys=keys)
    try:
        messages = dissect(read_packets(path), dissector)
        if as_json:
            for message in messages:
                print(json.dumps(message.to_json(), ensure_ascii=False))
            return
        print(f"{'time':>10}  {'direction':<9} {'proto':<5} {'type':<30} {'tcp':>3}  summary")
        for message in messages:
            print(_table_row(message))
    except CaptureError as exc:
        raise InputError(f"{path}: {exc}") from None
    for reason, count in dissector.skipped.most_common():
        print(f"not dissected: {count} frame(s), {reason}")


def _table_row(message: DissectedMessage) -> str:
    kind = message.type
    stream = "" if message.tcp_stream is None else message.tcp_stream  # which connection, as Wireshark's tcp.stream
    return (f"{message.t:10.6f}  {_DIRECTIONS[message.from_ev]:<9} {message.protocol:<5} {kind:<30} "
            f"{stream:>3}  {''.join(f'[{w}] ' for w in message.warnings)}{summarize(message)}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        arguments = _build_parser().parse_args(argv)
        if arguments.command == "decode":
            print(_decode(arguments.schema, arguments.hex))
        elif arguments.command == "encode":
            print(_encode(arguments.schema, arguments.json))
        else:
            _pcap(arguments.file, arguments.json, arguments.tls_keys)
    except InputError as exc:
        print(f"charger-v2g: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into head(1): stop quietly, and keep the exit flush quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
