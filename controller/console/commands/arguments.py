"""Arguments shared by console commands: which connector, how many rows."""
from __future__ import annotations

from controller.console.cabinet_view import CabinetView, ConnectorView
from controller.console.registry import CommandError


def connector_by_id(cabinet: CabinetView, text: str) -> ConnectorView:
    connectors = cabinet.connectors
    ids = [c.id for c in connectors]
    if not text.isdigit() or int(text) not in ids:
        raise CommandError(f"no connector {text[:20]!r} (connectors: {', '.join(map(str, ids))})")
    return next(c for c in connectors if c.id == int(text))


def chosen_connectors(cabinet: CabinetView, args: list[str]) -> list[ConnectorView]:
    """Every connector, or the one named by the first argument."""
    _no_extra(args, 1)
    return [connector_by_id(cabinet, args[0])] if args else list(cabinet.connectors)


def one_connector(cabinet: CabinetView, args: list[str]) -> ConnectorView:
    """The connector named by the first argument; it may be left out when the cabinet has only one."""
    _no_extra(args, 1)
    if args:
        return connector_by_id(cabinet, args[0])
    connectors = cabinet.connectors
    if len(connectors) == 1:
        return connectors[0]
    ids = ", ".join(str(c.id) for c in connectors)
    raise CommandError(f"which connector? give its id ({ids})")


def count(text: str, name: str, maximum: int) -> int:
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise CommandError(f"{name} must be a whole number from 1 to {maximum}, got {text[:20]!r}")
    return int(text)


def _no_extra(args: list[str], allowed: int) -> None:
    if len(args) > allowed:
        raise CommandError(f"unexpected argument {args[allowed][:20]!r}")
