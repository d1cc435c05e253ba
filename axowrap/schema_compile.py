"""JSON Schemas compiled once into plain Python predicates: "is this valid?" in microseconds.

jsonschema interprets a schema afresh on every call (a validator object per keyword and level),
which made schema checks ~a third of `validate --all`, and importing it costs ~50 ms of every
cold start. Most specs are valid, so `schema_check.check` first asks the compiled predicate
and only runs jsonschema (for its detailed errors) when the answer is no.

The predicate implements draft 2020-12 for the keywords axowrap's schemas use, with
jsonschema's own semantics (`True` is not `1` in `enum`, `1.0` is an integer, ...), and
ECMA-262's `$` in patterns. A schema with any other assertion keyword is refused
(`Unsupported`) and checked by jsonschema alone. tests/test_schema_compile.py compares the two
on every shipped schema and on generated instances.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

Predicate = Callable[[Any], bool]
TypeCheck = Callable[[Any, str], bool]

# Draft 2020-12's assertion and applicator keywords (jsonschema's Draft202012Validator.VALIDATORS;
# a test compares). Any other key (title, description, default, x-...) is an annotation.
KEYWORDS = frozenset(
    {
        "$dynamicRef",
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "if",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "prefixItems",
        "properties",
        "propertyNames",
        "required",
        "type",
        "unevaluatedItems",
        "unevaluatedProperties",
        "uniqueItems",
    }
)


class Unsupported(Exception):
    """The schema uses a keyword (or a `$ref`) this compiler does not implement."""


def json_type(value: Any, kind: str) -> bool:
    """jsonschema's draft 2020-12 type checker: bool is not a number, 1.0 is an integer."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float))
    raise Unsupported(f"unknown type {kind!r}")


_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    return _TRUE if value is True else _FALSE if value is False else value


def equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: `True` is not `1`, recursively in lists and mappings."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and equal(v, two[k]) for k, v in one.items())
    return bool(_unbool(one) == _unbool(two))


def unique(items: list[Any]) -> bool:
    """jsonschema's `uniqueItems`."""
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(equal(a, b) for a, b in zip(ordered, itertools.islice(ordered, 1, None), strict=False))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in items:
            item = _unbool(item)
            if any(equal(s, item) for s in seen):
                return False
            seen.append(item)
    return True


@cache
def ecma(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern with ECMA-262's `$` (the end of the text): Python's `$` also
    matches before a final newline, which would let `name: "sql\\n"` through."""
    out, escaped = [], False
    for ch in pattern:
        out.append("\\Z" if ch == "$" and not escaped else ch)
        escaped = ch == "\\" and not escaped
    return re.compile("".join(out))


class _Compiler:
    def __init__(self, root: Any, skip_required: bool, type_ok: TypeCheck, eager: bool) -> None:
        self.root = root
        self.skip_required = skip_required
        self.type_ok = type_ok
        self.eager = eager
        self.refs: dict[str, Predicate] = {}

    def ref(self, ref: Any) -> Predicate:
        if not isinstance(ref, str) or not ref.startswith("#/$defs/") or ref.count("/") != 2:
            raise Unsupported(f"$ref {ref!r}")
        if ref not in self.refs:
            if self.eager:  # a recursive schema finds its own predicate through the slot
                slot: list[Predicate] = []
                self.refs[ref] = lambda value: slot[0](value)
                slot.append(self.compile(self.root["$defs"][ref.split("/")[-1]]))
            else:
                self.refs[ref] = self.lazy(self.root["$defs"][ref.split("/")[-1]])
        return self.refs[ref]

    def lazy(self, schema: Any) -> Predicate:
        """`schema` compiled when first used: Axolotl's schema has ~400 properties and a config
        names a few dozen, so most are never compiled; an Unsupported keyword in one is raised
        when it is first used). `eager` compiles everything now."""
        if self.eager:
            return self.compile(schema)
        slot: list[Predicate] = []

        def pred(value: Any) -> bool:
            if not slot:
                slot.append(self.compile(schema))
            return slot[0](value)

        return pred

    def compile(self, schema: Any) -> Predicate:
        if schema is True or schema == {}:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks: list[Predicate] = []
        for key in schema:
            if key not in KEYWORDS:
                continue  # an annotation
            maker = getattr(self, "k_" + key.lstrip("$"), None)
            if maker is None:
                raise Unsupported(key)
            made = maker(schema[key], schema)
            if made is not None:
                checks.append(made)
        if not checks:
            return lambda value: True
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    # one method per keyword: (keyword's value, whole schema) -> predicate, or None for no check

    def k_ref(self, ref: Any, schema: dict[str, Any]) -> Predicate:
        return self.ref(ref)

    def k_type(self, kinds: Any, schema: dict[str, Any]) -> Predicate:
        names = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        for name in names:
            json_type(None, name)  # an unknown type name is refused here, at compile time
        type_ok = self.type_ok
        if len(names) == 1:
            only = names[0]
            return lambda value: type_ok(value, only)
        return lambda value: any(type_ok(value, k) for k in names)

    def k_enum(self, options: list[Any], schema: dict[str, Any]) -> Predicate:
        return lambda value: any(equal(value, o) for o in options)

    def k_const(self, const: Any, schema: dict[str, Any]) -> Predicate:
        return lambda value: equal(value, const)

    def _numeric(self, test: Callable[[Any], bool]) -> Predicate:
        return lambda value: not json_type(value, "number") or test(value)

    def k_minimum(self, bound: Any, schema: dict[str, Any]) -> Predicate:
        return self._numeric(lambda v: not v < bound)

    def k_maximum(self, bound: Any, schema: dict[str, Any]) -> Predicate:
        return self._numeric(lambda v: not v > bound)

    def k_exclusiveMinimum(self, bound: Any, schema: dict[str, Any]) -> Predicate:
        return self._numeric(lambda v: not v <= bound)

    def k_exclusiveMaximum(self, bound: Any, schema: dict[str, Any]) -> Predicate:
        return self._numeric(lambda v: not v >= bound)

    def k_pattern(self, pattern: str, schema: dict[str, Any]) -> Predicate:
        search = ecma(pattern).search
        return lambda value: not isinstance(value, str) or search(value) is not None

    def k_format(self, name: str, schema: dict[str, Any]) -> None:
        return None  # an annotation: axowrap's validators have no format checker (neither has jsonschema's default)

    def k_minLength(self, n: int, schema: dict[str, Any]) -> Predicate:
        return lambda value: not isinstance(value, str) or len(value) >= n

    def k_maxLength(self, n: int, schema: dict[str, Any]) -> Predicate:
        return lambda value: not isinstance(value, str) or len(value) <= n

    def k_minItems(self, n: int, schema: dict[str, Any]) -> Predicate:
        return lambda value: not isinstance(value, list) or len(value) >= n

    def k_maxItems(self, n: int, schema: dict[str, Any]) -> Predicate:
        return lambda value: not isinstance(value, list) or len(value) <= n

    def k_minProperties(self, n: int, schema: dict[str, Any]) -> Predicate:
        return lambda value: not isinstance(value, dict) or len(value) >= n

    def k_maxProperties(self, n: int, schema: dict[str, Any]) -> Predicate:
        return lambda value: not isinstance(value, dict) or len(value) <= n

    def k_uniqueItems(self, on: bool, schema: dict[str, Any]) -> Predicate | None:
        if not on:
            return None
        return lambda value: not isinstance(value, list) or unique(value)

    def k_anyOf(self, subs: list[Any], schema: dict[str, Any]) -> Predicate:
        preds = [self.compile(s) for s in subs]
        return lambda value: any(p(value) for p in preds)

    def k_allOf(self, subs: list[Any], schema: dict[str, Any]) -> Predicate:
        preds = [self.compile(s) for s in subs]
        return lambda value: all(p(value) for p in preds)

    def k_oneOf(self, subs: list[Any], schema: dict[str, Any]) -> Predicate:
        preds = [self.compile(s) for s in subs]
        return lambda value: sum(1 for p in preds if p(value)) == 1

    def k_not(self, sub: Any, schema: dict[str, Any]) -> Predicate:
        pred = self.compile(sub)
        return lambda value: not pred(value)

    def k_required(self, keys: list[str], schema: dict[str, Any]) -> Predicate | None:
        if self.skip_required:
            return None
        return lambda value: not isinstance(value, dict) or all(k in value for k in keys)

    def k_properties(self, props: dict[str, Any], schema: dict[str, Any]) -> Predicate:
        preds = {name: self.lazy(sub) for name, sub in props.items()}

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                pred = preds.get(key)
                if pred is not None and not pred(item):
                    return False
            return True

        return check

    def k_additionalProperties(self, extra: Any, schema: dict[str, Any]) -> Predicate:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        pred = self.compile(extra)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            return all(pred(item) for key, item in value.items() if key not in known)

        return check

    def k_propertyNames(self, sub: Any, schema: dict[str, Any]) -> Predicate:
        pred = self.compile(sub)
        return lambda value: not isinstance(value, dict) or all(pred(key) for key in value)

    def k_prefixItems(self, subs: list[Any], schema: dict[str, Any]) -> Predicate:
        preds = [self.compile(s) for s in subs]
        return lambda value: not isinstance(value, list) or all(p(item) for p, item in zip(preds, value, strict=False))

    def k_items(self, sub: Any, schema: dict[str, Any]) -> Predicate:
        start = len(schema.get("prefixItems", []))
        pred = self.compile(sub)
        return lambda value: not isinstance(value, list) or all(pred(item) for item in value[start:])


def compile_schema(
    schema: Any, *, skip_required: bool = False, type_ok: TypeCheck = json_type, eager: bool = False
) -> Predicate:
    """A predicate equal to jsonschema's `is_valid` for `schema` (draft 2020-12); `skip_required`
    drops every `required`, `type_ok` replaces the type check. Raises Unsupported (with `eager`,
    here; else possibly when a property's schema is first used)."""
    return _Compiler(schema, skip_required, type_ok, eager).compile(schema)
