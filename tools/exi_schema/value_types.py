"""How EXI represents the value of a simple type (EXI 1.0 section 7, without a datatype representation map).

Every simple type resolves to a ValueSpec: booleans are one bit; integers with a bounded range below 4096
are n-bit offsets from the minimum; other integers with a non-negative minimum are unsigned varints, the rest
signed (sign bit + varint); enumerations are n-bit indexes in declaration order; strings are varint(length+2)
and code points; hexBinary and base64Binary are varint(length) and octets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tools.exi_schema.xsd_model import XS, QName, SchemaError, SchemaSet, SimpleTypeDef

_INTEGER_BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "integer": (None, None),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-128, 127),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
}
_STRING_TYPES = {"string", "normalizedString", "token", "anyURI", "ID", "IDREF", "NCName", "NMTOKEN", "Name",
                 "language", "anySimpleType"}
_BINARY_TYPES = {"hexBinary", "base64Binary"}


@dataclass(frozen=True)
class ValueSpec:
    """One simple type's EXI representation and the Python value it maps to."""

    kind: str  # "bool" | "nbit" | "uint" | "int" | "enum" | "string" | "binary"
    lo: int | None = None
    hi: int | None = None
    width: int = 0  # bits of an n-bit integer or an enumeration index
    values: tuple[str, ...] = ()  # enumeration literals, in index order
    enum_name: QName | None = None  # the simple type that declares the enumeration (names the Python enum)
    min_length: int = 0
    max_length: int | None = None

    @property
    def python_type(self) -> str:
        return {"bool": "bool", "nbit": "int", "uint": "int", "int": "int", "string": "str",
                "binary": "bytes"}.get(self.kind, "enum")


def bits_for(count: int) -> int:
    """Bits of an n-bit code that distinguishes `count` values (0 for a single value)."""
    return max(count - 1, 0).bit_length()


def resolve_value(schemas: SchemaSet, type_ref: QName | SimpleTypeDef) -> ValueSpec:
    """Walk a simple type's restriction chain down to its built-in type, collecting facets on the way."""
    facets: dict[str, str] = {}
    enumeration: list[str] = []
    enum_owner: QName | None = None
    current: QName | SimpleTypeDef = type_ref
    while True:
        if isinstance(current, tuple):
            if current[0] == XS:
                return _built_in(current[1], facets, enumeration, enum_owner)
            if current not in schemas.simple_types:
                raise SchemaError(f"unknown simple type {current[1]}")
            current = schemas.simple_types[current]
        for name, value in current.facets.items():
            facets.setdefault(name, value)
        if current.enumeration and not enumeration:
            enumeration = current.enumeration
            enum_owner = current.name
        if current.base is None:
            raise SchemaError(f"simple type {current.name} has no base")
        current = current.base


def _built_in(name: str, facets: dict[str, str], enumeration: list[str], enum_owner: QName | None) -> ValueSpec:
    if enumeration:
        if name not in _STRING_TYPES:
            raise SchemaError(f"enumerations of xs:{name} are not supported")
        return ValueSpec(kind="enum", width=bits_for(len(enumeration)), values=tuple(enumeration),
                         enum_name=enum_owner)
    if name == "boolean":
        return ValueSpec(kind="bool")
    if name in _INTEGER_BOUNDS:
        return _integer(name, facets)
    min_length = int(facets.get("length", facets.get("minLength", "0")))
    max_text = facets.get("length", facets.get("maxLength"))
    max_length = int(max_text) if max_text is not None else None
    if name in _STRING_TYPES:
        return ValueSpec(kind="string", min_length=min_length, max_length=max_length)
    if name in _BINARY_TYPES:
        return ValueSpec(kind="binary", min_length=min_length, max_length=max_length)
    raise SchemaError(f"xs:{name} values are not supported")


def _integer(name: str, facets: dict[str, str]) -> ValueSpec:
    lo, hi = _INTEGER_BOUNDS[name]
    if "minInclusive" in facets:
        lo = _tighter(lo, int(facets["minInclusive"]), max)
    if "minExclusive" in facets:
        lo = _tighter(lo, int(facets["minExclusive"]) + 1, max)
    if "maxInclusive" in facets:
        hi = _tighter(hi, int(facets["maxInclusive"]), min)
    if "maxExclusive" in facets:
        hi = _tighter(hi, int(facets["maxExclusive"]) - 1, min)
    if lo is not None and hi is not None and hi - lo < 4096:
        return ValueSpec(kind="nbit", lo=lo, hi=hi, width=bits_for(hi - lo + 1))
    if lo is not None and lo >= 0:
        return ValueSpec(kind="uint", lo=lo, hi=hi)
    return ValueSpec(kind="int", lo=lo, hi=hi)


def _tighter(current: int | None, bound: int, pick: Callable[[int, int], int]) -> int:
    return bound if current is None else pick(current, bound)
