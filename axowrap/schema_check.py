"""JSON Schema validation that reports problems a person can act on.

jsonschema's raw messages ("... is not valid under any of the given schemas") are turned into:
the key path, the offending value, what was expected, and a did-you-mean for names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from axowrap.problems import Problem, did_you_mean, short_repr
from axowrap.yamlio import Document

_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    list: "list",
    dict: "mapping",
    type(None): "null",
}


@cache
def load_schema(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.split("/")[-1]], root)
    return schema


def describe(schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Short words for what a (sub)schema accepts: `integer`, `'lora' or 'qlora'`..."""
    schema = _resolve(schema, root)
    if "const" in schema:
        return [json.dumps(schema["const"])]
    if "enum" in schema:
        return [json.dumps(v) for v in schema["enum"]]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            words: list[str] = []
            for sub in schema[key]:
                words.extend(w for w in describe(sub, root) if w not in words)
            return words
    kind = schema.get("type")
    if isinstance(kind, list):
        return [{"object": "mapping", "array": "list"}.get(k, str(k)) for k in kind]
    if kind:
        word = {"object": "mapping", "array": "list"}.get(kind, kind)
        if "pattern" in schema:
            word += f" matching {schema['pattern']}"
        return [word]
    return ["anything"]


def _known_names(schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    schema = _resolve(schema, root)
    if "enum" in schema:
        return [str(v) for v in schema["enum"]]
    names: list[str] = []
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            names.extend(_known_names(sub, root))
    return names


def _convert(err: ValidationError, doc: Document, root: dict[str, Any], prefix: tuple) -> Problem:
    path = (*prefix, *err.absolute_path)
    value = err.instance
    kind = err.validator
    if kind in ("anyOf", "oneOf") and err.context:
        deeper = [e for e in err.context if len(e.absolute_path) > len(err.absolute_path)]
        typed = [e for e in err.context if e.validator not in ("type", "const", "enum")]
        if deeper or (typed and isinstance(value, (dict, list))):
            return _convert(best_match(deeper or typed), doc, root, prefix)
        expected = describe(err.schema, root)
        hint = None
        if isinstance(value, str):
            guess = did_you_mean(value, _known_names(err.schema, root))
            hint = f"did you mean {guess!r}?" if guess else None
        return doc.problem(
            path,
            f"expected {' or '.join(expected)}, got {type_name(value)} {short_repr(value)}",
            hint=hint,
        )
    if kind == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = [k for k in value if k not in err.schema.get("properties", {})]
        key = extra[0] if extra else "?"
        guess = did_you_mean(str(key), allowed)
        return doc.problem(
            (*path, key),
            f"unknown key {key!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            hint=None if guess else f"known keys here: {', '.join(allowed)}",
        )
    if kind == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return doc.problem(path, f"missing required key {missing!r}")
    if kind == "type":
        expected = describe(err.schema, root)
        return doc.problem(path, f"expected {' or '.join(expected)}, got {type_name(value)} {short_repr(value)}")
    if kind in ("enum", "const"):
        expected = describe(err.schema, root)
        guess = did_you_mean(str(value), [w.strip('"') for w in expected])
        return doc.problem(
            path,
            f"{short_repr(value)} is not allowed; expected one of {', '.join(expected)}",
            hint=f"did you mean {guess!r}?" if guess else None,
        )
    if kind == "pattern":
        desc = err.schema.get("description", "")
        return doc.problem(
            path,
            f"{short_repr(value)} does not match the expected form {err.validator_value}",
            hint=desc.split(". ")[0] if desc else None,
        )
    return doc.problem(path, err.message)


_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_SPACE = " \t\n\r\x0b\x0c"
_BOOL_WORDS = {"0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"}


def coerces(value: Any, kind: str) -> bool:
    """Does pydantic (lax mode, as Axolotl's models run) accept `value` for a field of JSON
    type `kind`, converting it? (`"2"` for an integer, `"yes"` for a boolean, `false` for an
    integer.) tests/test_lax_types.py compares this with pydantic itself."""
    if isinstance(value, str):
        text = value.strip(_SPACE)
        if not text.isascii():
            return False
        if kind == "integer":
            return bool(_INT.fullmatch(text))
        if kind == "number":
            if "_" in text:  # pydantic's rules for digit separators in floats are its own: only 1_000
                return bool(_INT.fullmatch(text))
            try:
                float(text)
            except ValueError:
                return False
            return True
        if kind == "boolean":
            return value.lower() in _BOOL_WORDS
        return False
    if isinstance(value, bool):
        return kind in ("integer", "number")
    if isinstance(value, (int, float)):
        if kind == "boolean":
            return value in (0, 1)
        return kind == "integer" and isinstance(value, float) and value.is_integer()
    return False


def _lax_type(validator: Any, types: Any, instance: Any, schema: dict[str, Any]) -> Iterable[ValidationError]:
    kinds = [types] if isinstance(types, str) else list(types)
    if not any(validator.is_type(instance, k) or coerces(instance, k) for k in kinds):
        yield ValidationError(f"{instance!r} is not of type {', '.join(map(repr, kinds))}")


def check(
    data: Any,
    schema: dict[str, Any],
    doc: Document,
    *,
    prefix: tuple = (),
    skip_required: bool = False,
    lax: bool = False,
) -> list[Problem]:
    """All schema problems of `data` (which sits at `prefix` inside `doc`). `lax`: values that
    pydantic converts (Axolotl's configs) are not type errors."""
    errors: Iterable[ValidationError] = _validator(schema, lax).iter_errors(data)
    out = []
    for err in errors:
        if skip_required and err.validator == "required":
            continue
        out.append(_convert(err, doc, schema, prefix))
    return out


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern with ECMA-262's `$` (the end of the text): Python's `$` also
    matches before a final newline, which would let `name: "sql\n"` through."""
    out, escaped = [], False
    for ch in pattern:
        out.append("\\Z" if ch == "$" and not escaped else ch)
        escaped = ch == "\\" and not escaped
    return re.compile("".join(out))


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterable[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
_LaxValidator = validators.extend(Draft202012Validator, {"pattern": _pattern, "type": _lax_type})
_VALIDATORS: dict[tuple[int, bool], tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any], lax: bool = False) -> Any:
    """One validator per schema object (schemas are cached, so this is per schema file)."""
    hit = _VALIDATORS.get((id(schema), lax))
    if hit is None or hit[0] is not schema:
        hit = (schema, (_LaxValidator if lax else _Validator)(schema))
        _VALIDATORS[(id(schema), lax)] = hit
    return hit[1]
