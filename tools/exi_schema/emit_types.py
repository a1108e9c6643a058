"""Writes the message-types module of one schema: a StrEnum per enumeration, a dataclass per complex type."""

from __future__ import annotations

from tools.exi_schema.codec_plan import CodecPlan, field_identifier
from tools.exi_schema.grammar import Field, TypeGrammar
from tools.exi_schema.xsd_model import UNBOUNDED


def python_type(plan: CodecPlan, f: Field) -> str:
    if f.complex_type is not None:
        base = plan.class_of(f.complex_type)
    else:
        assert f.value is not None
        base = plan.enum_of(f.value).class_name if f.value.kind == "enum" else f.value.python_type
    return f"list[{base}]" if f.is_list else base


def _facets(f: Field) -> dict[str, object]:
    """Schema facets that encode checks, as dataclass field metadata for tools and test generators."""
    facets: dict[str, object] = {}
    spec = f.value
    if spec is not None and spec.kind in ("nbit", "uint", "int"):
        facets["range"] = (spec.lo, spec.hi)
    if spec is not None and spec.kind in ("string", "binary"):
        facets["length"] = (spec.min_length, spec.max_length)
    if f.is_list:
        facets["count"] = (f.min, None if f.max == UNBOUNDED else f.max)
    if f.choice is not None:
        facets["choice"] = f.choice
    return facets


def emit_types(plan: CodecPlan, header: str) -> str:
    lines = [f'"""{plan.config.title}: message types.', "", header, "",
             "Dataclasses follow the schema: one field per attribute, element name or simple content (`content`),",
             "in schema order. Optional elements are None when absent; repeated elements are lists. Enumerations",
             "are StrEnums whose values are the schema literals. Field metadata holds the facets the encoder",
             "checks: range (min, max) of integers, length (min, max) of strings and bytes, count (min, max) of",
             "lists (None = unbounded), and choice: fields with the same number are alternatives, set one.",
             "Document roots also carry `warnings`: the facet violations the decoder let through",
             "(see document_root).",
             '"""', "", "from __future__ import annotations", "", "from dataclasses import dataclass, field",
             "from enum import StrEnum", "", "from controller.formats.v2g.messages.document_root import DocumentRoot", ""]
    for enum in sorted(plan.enums.values(), key=lambda e: e.class_name):
        lines += ["", f"class {enum.class_name}(StrEnum):"]
        lines += [f"    {member} = {value!r}" for member, value in zip(enum.members, enum.values)]
        lines.append("")
    for grammar in plan.grammars:
        lines += ["", *_dataclass(plan, grammar)]
    lines += ["", f"ROOT_ELEMENTS = {dict(sorted(plan.root_element_of_class.items()))!r}", ""]
    return "\n".join(lines)


def _dataclass(plan: CodecPlan, grammar: TypeGrammar) -> list[str]:
    name = plan.class_of(grammar.ctype)
    schema_name = grammar.ctype.name[1] if grammar.ctype.name else name
    base = "(DocumentRoot)" if name in plan.root_element_of_class else ""
    lines = ["@dataclass(slots=True, kw_only=True)", f"class {name}{base}:", f'    """Schema type {schema_name}."""', ""]
    seen: set[str] = set()
    for f in grammar.fields:
        ident = field_identifier(f.name)
        if ident in seen:
            raise ValueError(f"{name}: duplicate field {ident}")
        seen.add(ident)
        annotation = python_type(plan, f)
        arguments = []
        if f.is_list and f.min == 0:
            arguments.append("default_factory=list")
        elif not f.is_list and f.min == 0:
            annotation += " | None"
            arguments.append("default=None")
        facets = _facets(f)
        if facets:
            arguments.append(f"metadata={facets!r}")
        if arguments == ["default=None"]:
            lines.append(f"    {ident}: {annotation} = None")
        elif arguments:
            lines.append(f"    {ident}: {annotation} = field({', '.join(arguments)})")
        else:
            lines.append(f"    {ident}: {annotation}")
    if not grammar.fields:
        lines.append("    pass")
    return lines + [""]
