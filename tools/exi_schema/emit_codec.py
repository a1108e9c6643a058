"""Assembles the generated codec module of one schema: imports, tables, decode and encode functions, roots."""

from __future__ import annotations

import re

from tools.exi_schema.code_writer import Writer
from tools.exi_schema.codec_plan import CodecPlan
from tools.exi_schema.emit_decoder import DecoderEmitter
from tools.exi_schema.emit_encoder import EncoderEmitter

_ERROR_HELPERS = {"_count": "bad_count", "_fail": "decode_failure", "_fail_enc": "encode_failure",
                  "_escape": "escape_code", "_not_allowed": "not_allowed", "_range": "out_of_range",
                  "_unexpected": "unexpected_event"}
_VALUE_HELPERS = {"_binary": "binary", "_facet": "facet", "_int_tail": "int_tail", "_put_binary": "put_binary",
                  "_put_int": "put_int", "_put_string": "put_string", "_put_uint": "put_uint", "_string": "string",
                  "_uint_checked": "uint_checked"}


def emit_codec(plan: CodecPlan, header: str, types_module: str) -> str:
    tables: list[str] = []
    functions = Writer()
    decoders = DecoderEmitter(plan, tables)
    encoders = EncoderEmitter(plan, tables)
    for grammar in plan.grammars:
        decoders.emit(grammar, functions)
        encoders.emit(grammar, functions)
    body = "\n".join(functions.lines)
    enum_lines: list[str] = []
    for enum in sorted(plan.enums.values(), key=lambda e: e.class_name):
        enum_lines.append(f"_E_{enum.class_name} = tuple(_m.{enum.class_name})")
        enum_lines.append(f"_I_{enum.class_name} = {{m: i for i, m in enumerate(_E_{enum.class_name})}}")
    root_decoders = ", ".join(f"{r.code}: ({r.element!r}, _d_{plan.class_of(r.ctype)})" for r in plan.roots)
    root_encoders = ", ".join(f"_m.{plan.class_of(r.ctype)}: ({r.code}, _e_{plan.class_of(r.ctype)})"
                              for r in plan.roots)
    used = set(re.findall(r"\b_[a-z_]+\b", body))
    lines = [f'"""{plan.config.title}: EXI codec (schema-informed, bit-packed, strict=false).', "", header, '"""',
             "", "from __future__ import annotations", "",
             _import("controller.formats.v2g.exi.errors", _ERROR_HELPERS, used),
             _import("controller.formats.v2g.exi.primitives", _VALUE_HELPERS, used),
             f"from {types_module} import {plan.config.key} as _m", "",
             "_new = object.__new__", "_BOOL = {True: 1, False: 0}", *enum_lines, *tables, "", "",
             body, "", "# Document grammar: SE(global element) codes; V2G documents use only these roots.",
             f"DOC_BITS = {plan.doc_bits}", f"ROOT_DECODERS = {{{root_decoders}}}",
             f"ROOT_ENCODERS = {{{root_encoders}}}", *_fragment_lines(plan), ""]
    return "\n".join(line for line in lines if line is not None)


def _fragment_lines(plan: CodecPlan) -> list[str]:
    lines = []
    for table in plan.fragments:
        encoders = ", ".join(f"{name!r}: ({code}, _e_{plan.class_of(ctype)})"
                             for name, (code, ctype) in sorted(table.encoders.items()))
        decoders = ", ".join(f"{code}: ({name!r}, _d_{plan.class_of(ctype)})"
                             for name, (code, ctype) in sorted(table.encoders.items(), key=lambda item: item[1][0]))
        lines += [f"# Fragment grammar {table.prefix} (EXI 1.0 8.5.2): SE(element) codes, ED = {table.end_code}.",
                  f"{table.prefix}_BITS = {table.bits}", f"{table.prefix}_END = {table.end_code}",
                  f"{table.prefix}_ENCODERS = {{{encoders}}}", f"{table.prefix}_DECODERS = {{{decoders}}}"]
        if table.relaxed:
            relaxed = ", ".join(f"{name!r}: ({code}, ({', '.join(_form(plan, f) for f in forms)},))"
                                for name, (code, forms) in sorted(table.relaxed.items()))
            lines += ["# Relaxed element fragment grammar (EXI 1.0 8.5.3) of the names declared with differing types:",
                      "# its attributes A0..An-1 (namespace, local name); per name its SE code and its declared forms",
                      "# (Python type, ((attribute code, field, required), ...), content length min, max).",
                      f"{table.prefix}_RELAXED_ATTRIBUTES = {tuple(table.attributes)!r}",
                      f"{table.prefix}_RELAXED = {{{relaxed}}}"]
    return lines


def _form(plan: CodecPlan, form) -> str:
    python_type = "str" if form.class_type is None else f"_m.{plan.class_of(form.class_type)}"
    attributes = "".join(f"{attribute!r}, " for attribute in form.attributes)
    return f"({python_type}, ({attributes}), {form.min_length}, {form.max_length})"


def _import(module: str, helpers: dict[str, str], used: set[str]) -> str:
    names = [f"{original} as {alias}" for alias, original in sorted(helpers.items()) if alias in used]
    return f"from {module} import (\n    " + ",\n    ".join(names) + ",\n)"
