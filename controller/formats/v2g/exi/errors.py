"""ExiError: the one exception the codec raises for bad input or an invalid message."""

from __future__ import annotations


class ExiError(ValueError):
    """Bad EXI input or a message the schema does not allow; str() gives the reason and where it happened.

    `reason` is the bare cause ("input truncated", "value 4 out of range -3..3"), `path` the element names
    from the root down to where it happened, `bit` the bit offset in the input (decoding only).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []
        self.bit: int | None = None
        self.remaining: int | None = None  # bits left after the failing read, set where it failed

    def __str__(self) -> str:
        text = self.reason
        if self.bit is not None:
            text += f" at bit {self.bit}"
        if self.path:
            text += " in " + ".".join(self.path)
        return text


def decode_failure(exc: Exception, at: str, remaining: int) -> ExiError:
    """Turn any exception inside a generated decoder into an ExiError and add the field it happened in."""
    if isinstance(exc, ExiError):
        error = exc
    elif isinstance(exc, ValueError) and "negative shift count" in str(exc):
        error = ExiError("input truncated")
    elif isinstance(exc, (IndexError, KeyError)):
        error = ExiError("invalid event code or value index")
    elif isinstance(exc, RecursionError):
        error = ExiError("nesting too deep")
    else:
        error = ExiError(f"invalid input ({type(exc).__name__}: {exc})")
    if error.remaining is None:
        error.remaining = remaining
    if at:
        error.path.insert(0, at)
    return error


def encode_failure(exc: Exception, at: str, message: object) -> ExiError:
    """Turn any exception inside a generated encoder into an ExiError naming the offending field."""
    if isinstance(exc, ExiError):
        error = exc
    elif at and getattr(message, at, 0) is None:
        error = ExiError("required value missing")
    elif isinstance(exc, KeyError):
        error = ExiError(f"invalid value {exc.args[0]!r}")
    elif isinstance(exc, TypeError) and "NoneType" in str(exc) and "unpack" in str(exc):
        error = ExiError("element not allowed here (two choices set, or a required element missing)")
    elif isinstance(exc, (TypeError, AttributeError)):
        error = ExiError(f"invalid value type ({exc})")
    else:
        error = ExiError(f"cannot encode ({type(exc).__name__}: {exc})")
    if at:
        error.path.insert(0, at)
    return error


def unexpected_event(event: int, field_names: tuple[str, ...]) -> ExiError:
    """The event decoded last was not the end of the element: say what it was."""
    if event == -2:
        return ExiError("event code not in the schema (second-level events such as xsi:type are not supported)")
    if event == -3:
        return ExiError("wildcard or mixed content is not supported")
    return ExiError(f"element {field_names[event]} out of the order this codec represents")


def escape_code() -> ExiError:
    return ExiError("second-level event (xsi:type, xsi:nil or undeclared content) is not supported")


def out_of_range(value: object, lo: int | None, hi: int | None) -> ExiError:
    if value is None:
        return ExiError("required value missing")
    return ExiError(f"value {value!r} out of range {lo}..{hi}")


def not_allowed() -> ExiError:
    return ExiError("element not allowed here (two choices set, or a required element missing)")


def bad_count(count: int, lo: int, hi: int | None) -> ExiError:
    return ExiError(f"{count} items, the schema allows {lo}..{'unbounded' if hi is None else hi}")
