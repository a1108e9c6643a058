"""`authorize CONNECTOR IDTOKEN [TYPE]`: the technician shows a token for a connector, as a card at a reader
would; with OCPP it goes through the same checks (Authorize, local list, cache, offline rules)."""
from __future__ import annotations

from controller.console.cabinet_view import ConnectorView
from controller.console.registry import CommandContext, CommandError, Reply

TYPES = ("ISO14443", "ISO15693", "KeyCode", "Local", "eMAID", "MacAddress", "Central")
MAX_LENGTH = 36  # IdTokenType.idToken in OCPP 2.0.1


def parse_token(args: list[str]) -> dict:
    """IDTOKEN [TYPE] -> an idToken (type ISO14443 unless given)."""
    if len(args) > 2:
        raise CommandError("usage: authorize CONNECTOR IDTOKEN [TYPE]")
    value = args[0]
    token_type = args[1] if len(args) > 1 else "ISO14443"
    if token_type not in TYPES:
        raise CommandError(f"token type {token_type[:20]!r} is not one of {', '.join(TYPES)}")
    if not 1 <= len(value) <= MAX_LENGTH or not value.isascii() or not value.isprintable():
        raise CommandError(f"an idToken is 1 to {MAX_LENGTH} printable ASCII characters")
    if token_type in ("ISO14443", "ISO15693"):
        value = value.upper()
        if any(c not in "0123456789ABCDEF" for c in value) or len(value) % 2:
            raise CommandError(f"a {token_type} idToken is the card's UID in hex, e.g. 04A1B2C3")
    return {"idToken": value, "type": token_type}


async def present(ctx: CommandContext, c: ConnectorView, args: list[str]) -> Reply:
    token = parse_token(args)
    outcome, text = await ctx.cabinet.present_token(token, c.id, "console")
    data = {"connector": c.id, "state": c.state, "authorized": c.authorized, "id_token": token, "outcome": outcome}
    if outcome not in ("authorized", "waiting", "stopped"):
        raise CommandError(text, data)
    return Reply(text, data, c.id)
