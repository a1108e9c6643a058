"""The console's commands, one module per topic; `build_registry()` collects them all."""
from __future__ import annotations

from controller.console.commands import access, cantrace, certs, control, diag, live, network, records, selftest
from controller.console.registry import CommandRegistry


def build_registry() -> CommandRegistry:
    registry = CommandRegistry()
    for topic in (access, live, network, records, control, selftest, cantrace, diag, certs):
        topic.register(registry)
    return registry
