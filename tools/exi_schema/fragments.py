"""Schema-informed fragment grammars (EXI 1.0 section 8.5.2), for XML signatures over EXI (ISO 15118-2).

A fragment is a sequence of elements with no document root: after the header, each element starts with
SE(Fi) where F0..Fn-1 are all element declarations of the schema, global and local, sorted by local name
then namespace, each qualified name once; then SE(*) (code n) and ED (code n+1), all codes of
ceil(log2(n+2)) bits. An element's content follows its type's grammar, the same as in a document.
ISO 15118-2 digests its signed body elements as fragments of the message schema (which imports xmldsig)
and signs SignedInfo as a fragment of the xmldsig schema alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from tools.exi_schema.element_fragment import RelaxedForm, all_attributes, attribute_kinds, check_attribute_values
from tools.exi_schema.value_types import bits_for
from tools.exi_schema.xsd_model import ComplexTypeDef, ElementDecl, Particle, QName, SchemaSet


@dataclass(frozen=True)
class FragmentConfig:
    prefix: str       # names in the generated module: <prefix>_BITS, <prefix>_END, <prefix>_ENCODERS
    schema_file: str  # relative to the schemas folder: the schema whose declarations make F0..Fn-1


@dataclass
class FragmentTable:
    prefix: str
    bits: int
    end_code: int                       # ED
    encoders: dict[str, tuple[int, ComplexTypeDef]] = field(default_factory=dict)  # local name -> (code, type)
    # names declared with differing types: the relaxed element fragment grammar (element_fragment.py)
    relaxed: dict[str, tuple[int, tuple[RelaxedForm, ...]]] = field(default_factory=dict)
    attributes: list[QName] = field(default_factory=list)  # A0..An-1 of the relaxed grammar


def all_declarations(schemas: SchemaSet) -> dict[QName, list[ElementDecl]]:
    """Every element declaration (global, and local inside any complex type), by qualified name."""
    found: dict[QName, list[ElementDecl]] = {}
    seen_types: set[int] = set()

    def add(decl: ElementDecl) -> None:
        found.setdefault(decl.name, [])
        if all(d is not decl for d in found[decl.name]):
            found[decl.name].append(decl)
        visit(decl.type)

    def visit(ctype: object) -> None:
        if not isinstance(ctype, ComplexTypeDef) or id(ctype) in seen_types:
            return
        seen_types.add(id(ctype))
        walk(ctype.particle)

    def walk(particle: Particle | None) -> None:
        if particle is None:
            return
        if particle.element is not None:
            add(particle.element)
        for child in particle.children:
            walk(child)

    for decl in schemas.elements.values():
        add(decl)
    for ctype in schemas.complex_types.values():
        visit(ctype)
    return found


def build_fragment_table(schemas: SchemaSet, config: FragmentConfig, resolve, relax) -> FragmentTable:
    """`resolve(decls)`: the complex type the codec encodes for these declarations of one name, or None
    (no generated encoder, or declarations of differing types). `relax(decls, attributes)`: for declarations
    of differing types, their forms in the relaxed element fragment grammar (EXI 8.5.3), or None."""
    declarations = all_declarations(schemas)
    names = sorted(declarations, key=lambda q: (q[1], q[0]))
    table = FragmentTable(config.prefix, bits_for(len(names) + 2), len(names) + 1)  # codes 0..n+1
    attributes = all_attributes(schemas)
    for code, qname in enumerate(names):
        ctype = resolve(declarations[qname])
        if ctype is not None:
            table.encoders[qname[1]] = (code, ctype)
            continue
        forms = relax(declarations[qname], attributes) if len(declarations[qname]) > 1 else None
        if forms:
            table.relaxed[qname[1]] = (code, forms)
    if table.relaxed:
        check_attribute_values(attribute_kinds(schemas, attributes), attributes)
        table.attributes = attributes
    return table
