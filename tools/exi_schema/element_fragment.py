"""The schema-informed element fragment grammar (EXI 1.0 section 8.5.3), the relaxed grammar a fragment uses
for an element name that the schema declares more than once with different types.

ISO 15118-2 has one such name: eMAID, an EMAIDType (string content with an Id attribute) in
CertificateInstallationRes/UpdateRes and a plain eMAIDType string in CertificateUpdateReq and
PaymentDetailsReq; its fragment is what the provisioning service's signature digests (reference id4).

The relaxed grammar knows every attribute name of the schema, A0..An-1 (each qualified name once, sorted by
local name then namespace), and every element name, F0..Fm-1 (the fragment grammar's list):

    ElementFragment0: AT(A0..An-1) [typed] -> 0 (codes 0..n-1), AT(*) n, SE(F0..Fm-1) -> 1 (n+1..n+m),
                      SE(*) n+m+1, EE n+m+2, CH [untyped] -> 1 n+m+3
    ElementFragment1: SE(F0..Fm-1) 0..m-1, SE(*) m, EE m+1, CH [untyped] m+2

With strict = false both also carry second-level productions (the grammar counts as nillable, with named
sub-types), so each first-level code has one more value: the escape. An attribute's value takes its type's
representation when all declarations of that name agree on the type, else a string; character content is
untyped (a string). This generator writes the tables; controller/formats/v2g/exi/element_fragment.py encodes
and decodes. Only names whose declarations all have simple content are written (what eMAID needs): element
content inside the relaxed grammar is not supported.
"""
from __future__ import annotations

from dataclasses import dataclass

from tools.exi_schema.grammar import GrammarBuilder
from tools.exi_schema.value_types import ValueSpec, resolve_value
from tools.exi_schema.xsd_model import ComplexTypeDef, ElementDecl, QName, SchemaError, SchemaSet


@dataclass(frozen=True)
class RelaxedForm:
    """One declared type of a relaxed element, as the codec's Python value: a dataclass with attributes and a
    content field (class_type set), or a plain string (class_type None)."""

    class_type: ComplexTypeDef | None
    attributes: tuple[tuple[int, str, bool], ...]  # (code of the attribute in A0..An-1, field, required)
    min_length: int
    max_length: int | None


def all_attributes(schemas: SchemaSet) -> list[QName]:
    """A0..An-1: every declared attribute name (in named and anonymous types), sorted, each once."""
    names = {attr.name for ctype in _complex_types(schemas) for attr in ctype.attributes}
    return sorted(names, key=lambda q: (q[1], q[0]))


def attribute_kinds(schemas: SchemaSet, attributes: list[QName]) -> list[str]:
    """The value representation of each attribute name: its type's, or "string" where declarations differ."""
    types: dict[QName, list[ValueSpec]] = {name: [] for name in attributes}
    for ctype in _complex_types(schemas):
        for attr in ctype.attributes:
            types[attr.name].append(resolve_value(schemas, attr.type))
    return [specs[0].kind if specs and all(s == specs[0] for s in specs) else "string" for specs in types.values()]


def _complex_types(schemas: SchemaSet) -> list[ComplexTypeDef]:
    found: list[ComplexTypeDef] = []
    stack: list[object] = list(schemas.complex_types.values()) + [d.type for d in schemas.elements.values()]
    seen: set[int] = set()
    while stack:
        ctype = stack.pop()
        if not isinstance(ctype, ComplexTypeDef) or id(ctype) in seen:
            continue
        seen.add(id(ctype))
        found.append(ctype)
        particles = [ctype.particle] if ctype.particle is not None else []
        while particles:
            particle = particles.pop()
            if particle.element is not None:
                stack.append(particle.element.type)
            particles.extend(particle.children)
    return found


def relaxed_forms(builder: GrammarBuilder, decls: list[ElementDecl], attributes: list[QName],
                  known_class) -> tuple[RelaxedForm, ...] | None:
    """The forms of an element name declared with differing types, or None when one declaration has element
    content or a type the codec has no class for (`known_class(ctype)`): the name then gets no encoder. None
    too when all declarations share one type (named the same): that type's own grammar applies then."""
    types = [builder.element_type(d) for d in decls]
    if all(t is types[0] or (isinstance(t, tuple) and t == types[0]) for t in types):
        return None
    forms: list[RelaxedForm] = []
    for decl in decls:
        ref = builder.element_type(decl)
        ctype = builder.complex_type(ref)
        if ctype is None:
            spec = resolve_value(builder.schemas, ref)  # type: ignore[arg-type]
            if spec.kind != "string":
                return None
            form = RelaxedForm(None, (), spec.min_length, spec.max_length)
        else:
            particles, attrs, simple, _ = builder.effective(ctype)
            if particles or simple is None or simple.kind != "string" or not known_class(ctype):
                return None
            codes = tuple((attributes.index(a.name), a.name[1], a.required)
                          for a in sorted(attrs, key=lambda a: (a.name[1], a.name[0])))
            form = RelaxedForm(ctype, codes, simple.min_length, simple.max_length)
        if form not in forms:
            forms.append(form)
    return tuple(forms)


def check_attribute_values(kinds: list[str], attributes: list[QName]) -> None:
    """The runtime reads attribute values of the relaxed grammar as strings only."""
    for name, kind in zip(attributes, kinds):
        if kind != "string":
            raise SchemaError(f"relaxed element fragment grammar: {name[1]} values are {kind}, only strings "
                              "are supported")
