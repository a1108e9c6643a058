"""The one error the car's V2G link raises: the session cannot go on, and why."""
from __future__ import annotations


class EvLinkError(RuntimeError):
    pass
