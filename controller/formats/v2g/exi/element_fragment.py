"""The relaxed element fragment grammar (EXI 1.0 section 8.5.3) for names a schema declares with differing
types (ISO 15118-2: eMAID, as EMAIDType with an Id and as a plain string), inside a fragment.

A generated codec lists, per fragment grammar `<table>`, the relaxed grammar's attribute names
(`<table>_RELAXED_ATTRIBUTES`, A0..An-1) and per relaxed name its SE code and declared forms
(`<table>_RELAXED`); the element names F0..Fm-1 are the fragment grammar's own (m = `<table>_END` - 1).
Codes (see tools/exi_schema/element_fragment.py for the grammar):

    start tag (ElementFragment0, n+m+4 codes + escape): AT(Ai) i, AT(*) n, SE(Fj) n+1+j, SE(*) n+m+1,
                                                         EE n+m+2, CH n+m+3
    content   (ElementFragment1, m+3 codes + escape):    SE(Fj) j, SE(*) m, EE m+1, CH m+2

Attribute values and character content are strings (varint(length + 2), code points). The encoder writes
the declared attributes in A order, then the content as one CH when it is not empty, then EE. The decoder
takes attributes and character content; element content, wildcards and second-level events inside the
relaxed element are refused (no declared form of these names has them).
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

from controller.formats.v2g.exi.errors import ExiError
from controller.formats.v2g.exi.primitives import put_string, string


def _grammar(codec: ModuleType, table: str) -> tuple[int, int, int, int]:
    """(n attributes, m elements, start-tag code bits, content code bits)."""
    n = len(getattr(codec, f"{table}_RELAXED_ATTRIBUTES"))
    m = getattr(codec, f"{table}_END") - 1
    return n, m, (n + m + 4).bit_length(), (m + 3).bit_length()  # count + escape values: bit_length of count


def relaxed_names(codec: ModuleType, table: str) -> dict[str, tuple[int, tuple]]:
    return getattr(codec, f"{table}_RELAXED", {})


def encode(codec: ModuleType, table: str, element: str, message: Any, a: int) -> int:
    """Append `message`'s start-tag content, content and EE to `a` (SE is already written)."""
    _, forms = relaxed_names(codec, table)[element]
    n, m, start_bits, content_bits = _grammar(codec, table)
    for python_type, attributes, min_length, max_length in forms:
        if type(message) is python_type:
            break
    else:
        allowed = " or ".join(form[0].__name__ for form in forms)
        raise ExiError(f"{element} is a {allowed}, got {type(message).__name__}")
    content = message
    if python_type is not str:
        for code, name, required in attributes:
            value = getattr(message, name)
            if value is None:
                if required:
                    raise ExiError(f"{element}: attribute {name} is required")
                continue
            a = put_string((a << start_bits) | code, value, 0, None)
        content = message.content
    if not isinstance(content, str):
        raise ExiError(f"{element}: string content expected, got {type(content).__name__}")
    if len(content) < min_length or (max_length is not None and len(content) > max_length):
        raise ExiError(f"{element}: {len(content)} characters outside length {min_length}..{max_length}")
    if not content:
        return (a << start_bits) | (n + m + 2)  # EE straight from the start tag
    a = put_string((a << start_bits) | (n + m + 3), content, 0, None)  # CH, untyped
    return (a << content_bits) | (m + 1)  # EE


def decode(codec: ModuleType, table: str, element: str, v: int, r: int) -> tuple[Any, int]:
    """Read the relaxed element after its SE: (its value in the matching declared form, bits left)."""
    _, forms = relaxed_names(codec, table)[element]
    n, m, start_bits, content_bits = _grammar(codec, table)
    names = getattr(codec, f"{table}_RELAXED_ATTRIBUTES")
    found: dict[int, str] = {}
    parts: list[str] = []
    bits, in_content = start_bits, False
    while True:
        r -= bits
        if r < 0:
            raise ExiError("input truncated")
        code = (v >> r) & ((1 << bits) - 1)
        if not in_content and code < n:
            if code in found:
                raise ExiError(f"{element}: attribute {names[code][1]} twice")
            found[code], r = string(v, r, None, f"{element}@{names[code][1]}")
            continue
        event = code - (n + 1) if not in_content else code  # SE(F0) is 0 from here on
        if event == m + 1:  # EE
            break
        if event == m + 2:  # CH [untyped value]
            text, r = string(v, r, None, element)
            parts.append(text)
            bits, in_content = content_bits, True
            continue
        what = "a wildcard attribute" if not in_content and code == n else "element content" if event <= m \
            else "a second-level event"
        raise ExiError(f"{element}: {what} in the relaxed element fragment grammar is not supported")
    return _form_value(element, forms, names, found, "".join(parts)), r


def _form_value(element: str, forms: tuple, names: tuple, found: dict[int, str], content: str) -> Any:
    for python_type, attributes, _, _ in forms:
        declared = {code: (name, required) for code, name, required in attributes}
        if set(found) <= set(declared) and all(code in found for code, (_, req) in declared.items() if req):
            if python_type is str:
                return content
            values = {name: found.get(code) for code, (name, _) in declared.items()}
            return python_type(**values, content=content)
    listed = ", ".join(names[code][1] for code in sorted(found)) or "no attributes"
    raise ExiError(f"{element} with {listed} matches none of its declared types")
