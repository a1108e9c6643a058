"""What a decoded document carries besides its schema fields: the facet violations the decoder let through.

Cars send values their schema forbids but their bit field carries (a production car's PowerDeliveryReq has
ChargingProfileEntryMaxNumberOfPhasesInUse = 4 where ISO 15118-2 allows 1..3). The decoder keeps such a
value and lists a FacetViolation on the message's `warnings`; the handler decides what matters. Encoding
stays strict. `warnings` is a slot outside the dataclass fields, so it is left out of equality, repr and
the JSON form, and a message built in code has none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FacetViolation:
    """`field` is "Type.Field" of the schema type holding it; `facet` "range" (value) or "length" (of a
    string or bytes, `value` is then the length); lo/hi the allowed bounds (None = unbounded)."""

    field: str
    facet: str
    value: int
    lo: int | None
    hi: int | None

    def __str__(self) -> str:
        what = f"length {self.value}" if self.facet == "length" else str(self.value)
        return f"{self.field}: {what} outside the schema's {self.lo}..{self.hi}"


class DocumentRoot:
    """Base of the generated document root classes (V2G_Message, supportedAppProtocolReq/Res)."""

    __slots__ = ("_warnings",)

    @property
    def warnings(self) -> tuple[FacetViolation, ...]:
        try:
            return self._warnings
        except AttributeError:  # unset until the decoder finds a violation: no cost on clean messages
            return ()
