"""What one generated codec holds: the complex types reachable from its root elements, their grammars,
Python names for types, fields and enumeration members, and the document grammar's root codes."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools.exi_schema.element_fragment import relaxed_forms
from tools.exi_schema.fragments import FragmentConfig, FragmentTable, build_fragment_table
from tools.exi_schema.grammar import GrammarBuilder, TypeGrammar
from tools.exi_schema.value_types import ValueSpec, bits_for
from tools.exi_schema.xsd_model import ComplexTypeDef, QName, SchemaError, load_schema_set


@dataclass(frozen=True)
class SchemaConfig:
    """One schema the generator writes a codec for."""

    key: str  # "din": module names din.py (types) and din_gen.py (codec)
    title: str
    root_file: str  # relative to the schemas folder
    roots: tuple[str, ...]  # local names of the global elements accepted as documents
    fragments: tuple[FragmentConfig, ...] = ()  # fragment grammars to write encoders for (XML signatures)


@dataclass
class Root:
    code: int  # event code of SE(root) in the document grammar
    element: str
    ctype: ComplexTypeDef


@dataclass
class EnumPlan:
    class_name: str
    values: tuple[str, ...]
    members: tuple[str, ...]  # Python identifiers, same order


@dataclass
class CodecPlan:
    config: SchemaConfig
    doc_bits: int
    roots: list[Root]
    grammars: list[TypeGrammar] = field(default_factory=list)  # dependency order: referenced types first
    class_names: dict[int, str] = field(default_factory=dict)  # id(ComplexTypeDef) -> class name
    enums: dict[QName, EnumPlan] = field(default_factory=dict)
    root_element_of_class: dict[str, str] = field(default_factory=dict)
    fragments: list[FragmentTable] = field(default_factory=list)

    def class_of(self, ctype: ComplexTypeDef) -> str:
        return self.class_names[id(ctype)]

    def enum_of(self, spec: ValueSpec) -> EnumPlan:
        assert spec.enum_name is not None
        return self.enums[spec.enum_name]


def build_plan(schemas_dir: Path, config: SchemaConfig) -> CodecPlan:
    schemas = load_schema_set(schemas_dir / config.root_file)
    builder = GrammarBuilder(schemas)
    globals_sorted = sorted(schemas.elements.values(), key=lambda d: (d.name[1], d.name[0]))
    roots: list[Root] = []
    for code, decl in enumerate(globals_sorted):
        if decl.name[1] in config.roots:
            ctype = builder.complex_type(builder.element_type(decl))
            if ctype is None:
                raise SchemaError(f"root {decl.name[1]} has no complex type")
            roots.append(Root(code, decl.name[1], ctype))
    if len(roots) != len(config.roots):
        raise SchemaError(f"{config.key}: roots {config.roots} not all found")
    # The document grammar: one SE per global element, then SE(*).
    plan = CodecPlan(config, bits_for(len(globals_sorted) + 1), roots)
    anonymous_names = {id(r.ctype): r.element for r in roots}
    _collect(builder, plan, [r.ctype for r in roots], anonymous_names)
    _name_types(plan, anonymous_names)
    for root in roots:
        plan.root_element_of_class[plan.class_of(root.ctype)] = root.element
    for fragment in config.fragments:
        fragment_schemas = schemas if fragment.schema_file == config.root_file else \
            load_schema_set(schemas_dir / fragment.schema_file)
        fragment_builder = GrammarBuilder(fragment_schemas)
        plan.fragments.append(build_fragment_table(
            fragment_schemas, fragment, lambda decls: _fragment_type(builder, plan, decls),
            lambda decls, attributes: relaxed_forms(fragment_builder, decls, attributes,
                                                    lambda ctype: id(ctype) in plan.class_names)))
    return plan


def _fragment_type(builder: GrammarBuilder, plan: CodecPlan, decls: list) -> ComplexTypeDef | None:
    """The complex type this codec encodes for an element name's declarations; None when it has none or the
    declarations differ in type (the fragment grammar would then be the relaxed one)."""
    try:
        types = [builder.element_type(d) for d in decls]
    except SchemaError:
        return None
    first = types[0]
    if any(t is not first and not (isinstance(t, tuple) and t == first) for t in types[1:]):
        return None
    ctype = builder.complex_type(first)
    return ctype if ctype is not None and id(ctype) in plan.class_names else None


def _collect(builder: GrammarBuilder, plan: CodecPlan, start: list[ComplexTypeDef], anonymous: dict[int, str]) -> None:
    """Build grammars of every reachable complex type, referenced types before the types using them."""
    done: set[int] = set()
    visiting: set[int] = set()

    def visit(ctype: ComplexTypeDef, owner: str) -> None:
        if id(ctype) in done:
            return
        if id(ctype) in visiting:
            raise SchemaError(f"recursive type {ctype.name} is not supported")
        visiting.add(id(ctype))
        if ctype.name is None:
            anonymous.setdefault(id(ctype), owner)
        grammar = builder.build(ctype)
        for f in grammar.fields:
            if f.complex_type is not None:
                visit(f.complex_type, f.name)
            if f.value is not None and f.value.kind == "enum":
                assert f.value.enum_name is not None
                plan.enums.setdefault(f.value.enum_name, EnumPlan("", f.value.values, ()))
        visiting.discard(id(ctype))
        done.add(id(ctype))
        plan.grammars.append(grammar)

    for ctype in start:
        visit(ctype, "")


def _name_types(plan: CodecPlan, anonymous: dict[int, str]) -> None:
    wanted: dict[str, list[object]] = {}
    for grammar in plan.grammars:
        ctype = grammar.ctype
        raw = ctype.name[1] if ctype.name else anonymous[id(ctype)]
        wanted.setdefault(_class_name(raw), []).append(grammar)
    for qname in plan.enums:
        wanted.setdefault(_class_name(qname[1]), []).append(qname)
    for name, owners in wanted.items():
        for owner in owners:
            raw = _raw_name(owner, anonymous)
            final = name if len(owners) == 1 else _class_name(raw, strip=False)
            if isinstance(owner, tuple):
                values = plan.enums[owner].values
                plan.enums[owner] = EnumPlan(final, values, _member_names(values))
            else:
                plan.class_names[id(owner.ctype)] = final  # type: ignore[attr-defined]
    if len(set(plan.class_names.values()) | {e.class_name for e in plan.enums.values()}) != (
            len(plan.class_names) + len(plan.enums)):
        raise SchemaError(f"{plan.config.key}: type names collide")


def _raw_name(owner: object, anonymous: dict[int, str]) -> str:
    if isinstance(owner, tuple):
        return owner[1]
    ctype = owner.ctype  # type: ignore[attr-defined]
    return ctype.name[1] if ctype.name else anonymous[id(ctype)]


def _class_name(raw: str, strip: bool = True) -> str:
    name = raw[:-4] if strip and raw.endswith("Type") and len(raw) > 4 else raw
    return name[0].upper() + name[1:]


def _member_names(values: tuple[str, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        name = re.sub(r"\W", "_", value)
        if not name or name[0].isdigit() or name.startswith("_"):
            name = "V_" + name
        if keyword.iskeyword(name) or name in ("None", "True", "False", "mro"):
            name += "_"
        while name in names:
            name += "_"
        names.append(name)
    return tuple(names)


def field_identifier(name: str) -> str:
    """Dataclass attribute for an XML name (the names in V2G schemas are already identifiers)."""
    ident = re.sub(r"\W", "_", name)
    return ident + "_" if keyword.iskeyword(ident) else ident
