"""charger-console: the technician's client for the charger's serial console.

  charger-console PORT                      a plain line terminal (exit, quit or Ctrl-D to leave)
  charger-console PORT COMMAND [ARG ...]    one command: print the answer and exit

PORT is a device path (/dev/ttyUSB0), a pty path or a pyserial URL (socket://HOST:PORT, rfc2217://...).
The PIN (to log in first) comes from a prompt (--ask-pin), a file (--pin-file PATH, its first line) or the
CHARGER_CONSOLE_PIN environment variable, never from the command line, where every user of the machine sees
it in the process list (`--pin PIN` still works, with a warning). In the terminal, `login` alone asks for
the PIN without showing it.
Exit status of one command: 0 answered, 1 the console answered with an error (or refused the PIN),
2 the console could not be reached (one line on stderr says why).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time

import serial
from controller.formats.command_line import OneLineArgumentParser

PROMPT_RE = re.compile(rb"(?:\A|\n)([A-Za-z0-9_.-]{1,24}(?::[a-z]+)?> )\Z")
INTERRUPT = b"\x03"
MAX_LINE = 256
READ_SLICE_S = 0.05
QUIET_BEFORE_SYNC_S = 0.1
PIN_ENV = "CHARGER_CONSOLE_PIN"
LONG_COMMANDS_S = {"selftest": 30.0}  # extra waiting time: the IMD self-test may take this long


class ConsoleUnreachable(Exception):
    """The port cannot be opened, vanished, or no console prompt answers on it."""


class ConsoleClient:
    def __init__(self, port: serial.SerialBase, timeout: float):
        self.port = port
        self.timeout = timeout
        self.prompt = ""

    @classmethod
    def open(cls, url: str, baudrate: int = 115200, timeout: float = 10.0) -> "ConsoleClient":
        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=READ_SLICE_S, write_timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConsoleUnreachable(f"cannot open {url}: {exc}") from None
        return cls(port, timeout)

    def close(self) -> None:
        self.port.close()

    def sync(self) -> None:
        """Drop stale output, clear whatever is on the console's line (Ctrl-C) and wait for a fresh prompt."""
        self._drain()
        self._write(INTERRUPT)
        self._read_answer(self.timeout)

    def command(self, line: str) -> str:
        """Run one command line; the answer without the echoed line and the prompt."""
        if len(line) > MAX_LINE or not line.isascii() or not line.isprintable():
            raise ValueError(f"a command line is at most {MAX_LINE} printable ASCII characters")
        self._write(line.encode() + b"\r")
        raw = self._read_answer(self.timeout + _extra_wait(line))
        _, _, answer = raw.partition(b"\r\n")  # the first line is the echo of what we typed
        return answer.decode("ascii", "replace").replace("\r\n", "\n").rstrip("\n")

    def interrupt(self) -> str:
        """Ctrl-C: stop a running command; what it printed up to the next prompt."""
        self._write(INTERRUPT)
        return self._read_answer(self.timeout).decode("ascii", "replace").replace("\r\n", "\n").rstrip("\n")

    def _read_answer(self, timeout: float) -> bytes:
        """Bytes up to the next prompt (the prompt itself removed); the wait restarts with every byte."""
        buffer = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = self.port.read(4096)
            except (serial.SerialException, OSError) as exc:
                raise ConsoleUnreachable(f"lost the console: {exc}") from None
            if chunk:
                buffer += chunk
                deadline = time.monotonic() + timeout
                match = PROMPT_RE.search(buffer)
                if match:
                    self.prompt = match.group(1).decode()
                    return bytes(buffer[:match.start(1)])
            elif time.monotonic() > deadline:
                raise ConsoleUnreachable(f"no console prompt within {timeout:g} s (wrong port or baud rate, "
                                         "or the controller is not running?)")

    def _drain(self) -> None:
        try:
            self.port.reset_input_buffer()
            quiet_until = time.monotonic() + QUIET_BEFORE_SYNC_S
            while time.monotonic() < quiet_until:
                if self.port.read(4096):
                    quiet_until = time.monotonic() + QUIET_BEFORE_SYNC_S
        except (serial.SerialException, OSError) as exc:
            raise ConsoleUnreachable(f"lost the console: {exc}") from None

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise ConsoleUnreachable(f"cannot write to the console: {exc}") from None


def _extra_wait(line: str) -> float:
    words = [w for w in line.split() if w != "--json"]
    if words and words[0] == "json":
        words = words[1:]
    if not words:
        return 0.0
    if words[0] == "cantrace" and len(words) > 1:
        try:
            return max(0.0, float(words[1]))
        except ValueError:
            return 0.0
    return LONG_COMMANDS_S.get(words[0], 0.0)


def is_json_line(line: str) -> bool:
    words = line.split()
    return bool(words) and (words[0] == "json" or "--json" in words)


def answer_failed(line: str, answer: str) -> bool:
    """Whether the console refused or failed the command (error answers are marked in both modes)."""
    if is_json_line(line):
        try:
            return json.loads(answer.splitlines()[-1]).get("ok") is not True
        except (ValueError, IndexError, AttributeError):
            return True
    lines = [x for x in answer.splitlines() if x.strip()]
    return bool(lines) and lines[-1].startswith("error: ")


def login(client: ConsoleClient, pin: str) -> str | None:
    """Log in; None if it worked, else the console's reason."""
    answer = client.command(f"json login {pin}")
    try:
        reply = json.loads(answer.splitlines()[-1])
    except (ValueError, IndexError):
        return f"unexpected answer: {answer[:80]!r}"
    return None if reply.get("ok") is True else str(reply.get("error"))


def leave(client: ConsoleClient) -> None:
    """Log out (the console keeps its role for whoever plugs in next) and close; best effort."""
    try:
        client.command("logout")
    except (ConsoleUnreachable, ValueError):
        pass
    finally:
        client.close()


def one_command(client: ConsoleClient, words: list[str]) -> int:
    line = " ".join(words)
    answer = client.command(line)
    if answer:
        print(answer)
    return 1 if answer_failed(line, answer) else 0


def interactive(client: ConsoleClient) -> int:
    print(f"connected; {client.prompt.strip()} console (exit, quit or Ctrl-D to leave)")
    while True:
        try:
            line = input(client.prompt)
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            continue
        if line.strip() in ("exit", "quit"):
            return 0
        if line.strip() == "login":  # the PIN asked for without echo, kept out of the terminal's scrollback
            try:
                line = "login " + getpass.getpass("PIN: ")
            except (EOFError, KeyboardInterrupt):
                print()
                continue
        if not line.strip():
            continue
        try:
            answer = client.command(line)
        except KeyboardInterrupt:
            answer = client.interrupt()
        except ValueError as exc:
            answer = f"error: {exc}"
        if answer:
            print(answer)


OWN_OPTIONS = ("--pin", "--pin-file", "--timeout", "--baudrate")  # each takes a value
OWN_FLAGS = ("--ask-pin",)


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our options and PORT, then the command: everything from the first other word on (its --json too)."""
    head: list[str] = []
    port_seen = False
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.split("=", 1)[0] in OWN_OPTIONS:
            head.append(token)
            if "=" not in token and i + 1 < len(argv):
                i += 1
                head.append(argv[i])
        elif token in OWN_FLAGS:
            head.append(token)
        elif token in ("-h", "--help") or not port_seen:
            port_seen = port_seen or not token.startswith("-")
            head.append(token)
        else:
            break
        i += 1
    return head, argv[i:]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="charger-console", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="charger-console [--ask-pin | --pin-file PATH] [--timeout S] [--baudrate B] PORT [COMMAND [ARG ...]]")
    parser.add_argument("port", help="device path, pty path or pyserial URL")
    parser.add_argument("--ask-pin", action="store_true", help="ask for the PIN (not shown) and log in first")
    parser.add_argument("--pin-file", metavar="PATH", help="log in first with the PIN on this file's first line")
    parser.add_argument("--pin", help=argparse.SUPPRESS)  # visible in the process list: kept, with a warning
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    parser.add_argument("--baudrate", type=int, default=115200)
    head, command = split_argv(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(head)
    args.command = command
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        pin = the_pin(args)
    except ValueError as exc:
        print(f"charger-console: {exc}", file=sys.stderr)
        return 2
    try:
        client = ConsoleClient.open(args.port, args.baudrate, args.timeout)
        try:
            client.sync()
            if pin is not None:
                refused = login(client, pin)
                if refused is not None:
                    print(f"charger-console: login refused: {refused}", file=sys.stderr)
                    return 1
            return one_command(client, args.command) if args.command else interactive(client)
        finally:
            leave(client)
    except ConsoleUnreachable as exc:
        print(f"charger-console: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"charger-console: {exc}", file=sys.stderr)
        return 2


def the_pin(args: argparse.Namespace) -> str | None:
    """The PIN to log in with first, from the safest source given; None: do not log in."""
    given = [name for name, value in (("--ask-pin", args.ask_pin), ("--pin-file", args.pin_file),
                                      ("--pin", args.pin)) if value]
    if len(given) > 1:
        raise ValueError(f"give the PIN one way only, not {' and '.join(given)}")
    if args.ask_pin:
        try:
            pin = getpass.getpass("PIN: ")
        except (EOFError, KeyboardInterrupt):
            raise ValueError("no PIN given at the prompt") from None
    elif args.pin_file:
        try:
            with open(args.pin_file) as fh:
                pin = fh.readline().strip()
        except OSError as exc:
            raise ValueError(f"cannot read --pin-file {args.pin_file}: {exc.strerror}") from None
    elif args.pin is not None:
        print(f"charger-console: warning: --pin shows the PIN to every user of this machine (process list, "
              f"shell history); use --ask-pin, --pin-file PATH or {PIN_ENV}", file=sys.stderr)
        pin = args.pin
    else:
        pin = os.environ.get(PIN_ENV) or None
    if pin is not None and (not pin or any(c.isspace() for c in pin)):
        raise ValueError("the PIN is empty or holds spaces")
    return pin


if __name__ == "__main__":
    sys.exit(main())
