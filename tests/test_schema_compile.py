"""The compiled schema predicates say exactly what jsonschema says (valid or not), on every
shipped schema (every Axolotl release's), the shipped examples and generated variations of
them, strict and lax (pydantic's conversions, as Axolotl configs are checked)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from axowrap.config.check import base_schema, plugin_names, schema_with_plugins
from axowrap.releases import shipped
from axowrap.schema_check import _validator, lax_type
from axowrap.schema_compile import KEYWORDS, Unsupported, compile_schema, json_type
from axowrap.spec.model import spec_schema

REPO = Path(__file__).resolve().parent.parent


def jsonschema_says(schema: dict[str, Any], data: Any, *, skip_required: bool = False, lax: bool = False) -> bool:
    """The referee: jsonschema (with axowrap's ECMA `$` in patterns), as schema_check runs it."""
    errors = _validator(schema, lax).iter_errors(data)
    return not any(not (skip_required and e.validator == "required") for e in errors)


def compiled(schema: dict[str, Any], *, skip_required: bool = False, lax: bool = False) -> Any:
    return compile_schema(schema, skip_required=skip_required, type_ok=lax_type if lax else json_type)


def shipped_schemas() -> list[tuple[str, dict[str, Any]]]:
    out = [("spec", spec_schema())]
    for version in shipped():
        plugins = tuple(plugin_names(version))
        out += [
            (f"axolotl-{version}", base_schema(version)),
            (f"axolotl-{version}+plugins", schema_with_plugins(version, plugins)),
        ]
    return out


def samples() -> list[tuple[str, Any]]:
    """Every YAML mapping the repo ships: example specs, presets, golden configs."""
    out = []
    for pattern in ("examples/*.yaml", "examples/**/*.yaml", "tests/golden/*.yaml", "axowrap/presets/*.yaml"):
        for path in sorted(REPO.glob(pattern)):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                out.append((str(path.relative_to(REPO)), data))
    return out


def test_keywords_are_jsonschemas_own() -> None:
    assert set(Draft202012Validator.VALIDATORS) == KEYWORDS


@pytest.mark.parametrize("name,schema", shipped_schemas(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_shipped_schema_compiles(name: str, schema: dict[str, Any]) -> None:
    compile_schema(schema, eager=True)
    compile_schema(schema, skip_required=True, eager=True)
    compile_schema(schema, type_ok=lax_type, eager=True)


def test_an_unsupported_keyword_is_refused_not_ignored() -> None:
    with pytest.raises(Unsupported):
        compile_schema({"if": {"type": "string"}, "then": {"minLength": 2}})
    with pytest.raises(Unsupported):
        compile_schema({"$ref": "https://example.com/other.json"})
    lazy = compile_schema({"properties": {"a": {"contains": {"type": "string"}}}})  # compiled when used
    assert lazy({"b": 1})
    with pytest.raises(Unsupported):
        lazy({"a": [1]})


def test_schema_check_falls_back_to_jsonschema_on_an_unsupported_keyword() -> None:
    from axowrap.schema_check import check
    from axowrap.yamlio import parse_yaml

    schema = {"type": "object", "properties": {"a": {"contains": {"type": "string"}}}}
    doc = parse_yaml("a: [1]\n", "x.yaml")
    assert [p.render() for p in check(doc.data, schema, doc)] == [
        "x.yaml:1:1: error: a: [1] does not contain items matching the given schema"
    ]


@pytest.mark.parametrize(
    "schema,value,valid",
    [
        ({"enum": [1, "a"]}, True, False),  # True is not 1 (jsonschema's equality)
        ({"enum": [1, "a"]}, 1.0, True),
        ({"const": [1, {"a": False}]}, [1, {"a": 0}], False),
        ({"type": "integer"}, 2.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"minimum": 1}, "text", True),  # bounds only apply to numbers
        ({"minimum": 1}, True, True),
        ({"exclusiveMinimum": 0}, 0, False),
        ({"pattern": "^[a-z]+$"}, "sql\n", False),  # ECMA-262's `$`: the end of the text
        ({"pattern": "^[a-z]+$"}, 5, True),
        ({"uniqueItems": True}, [1, True], True),
        ({"uniqueItems": True}, [{"a": 1}, {"a": 1}], False),
        ({"uniqueItems": True}, [1, 1.0], False),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"ok": 1, "No": 2}, False),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, ["a", 1, 2], True),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, [1], False),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, False),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, 1: 2}, False),
        (
            {
                "$defs": {"n": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/n"}}]}},
                "$ref": "#/$defs/n",
            },
            [[None], [[None, 1]]],
            False,
        ),
    ],
)
def test_edges_as_jsonschema_has_them(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert compile_schema(schema)(value) is valid
    assert jsonschema_says(schema, value) is valid


@pytest.mark.parametrize(
    "schema,value,valid",
    [
        ({"type": "integer"}, "8", True),  # pydantic converts it
        ({"type": "integer"}, "8.5", False),
        ({"type": "boolean"}, "yes", True),
        ({"type": "boolean"}, 2, False),
        ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, "8", False),  # both match once converted
        ({"not": {"type": "number"}}, "1e-5", False),
    ],
)
def test_lax_edges_as_jsonschema_has_them(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert compiled(schema, lax=True)(value) is valid
    assert jsonschema_says(schema, value, lax=True) is valid


@pytest.mark.parametrize("name,schema", shipped_schemas(), ids=lambda x: x if isinstance(x, str) else "")
def test_the_shipped_files_get_the_same_verdict(name: str, schema: dict[str, Any]) -> None:
    valid = compile_schema(schema)
    partial = compile_schema(schema, skip_required=True)
    lax = compiled(schema, skip_required=True, lax=True)
    for _, data in samples():
        assert valid(data) == jsonschema_says(schema, data)
        assert partial(data) == jsonschema_says(schema, data, skip_required=True)
        assert lax(data) == jsonschema_says(schema, data, skip_required=True, lax=True)


# Values YAML can produce, and the mutations a person makes to a config.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -1.0, 1e-5, math.inf]),
    st.text(max_size=8),
    st.sampled_from(
        [
            "lora",
            "qlora",
            "alpaca",
            "auto",
            "cosine",
            "a10g-24gb",
            "q4_k_m",
            "main\n",
            "Sql",
            "",
            "8",
            "1e-5",
            "yes",
            " 3 ",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers(0, 3)), inner, max_size=4),
    ),
    max_leaves=10,
)


def _paths(data: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*here, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*here, i))
    return out


def _mutate(data: Any, path: tuple, how: str, value: Any, key: str) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value if how == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][key] = value
    return data


SAMPLES = samples()
SCHEMAS = shipped_schemas()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    schema=st.sampled_from(SCHEMAS),
    pick=st.integers(0, 10_000),
    how=st.sampled_from(["replace", "delete", "add"]),
    value=VALUES,
    key=st.one_of(st.sampled_from(["lora_r", "epochs", "format", "target", "type", "path"]), st.text(max_size=6)),
    skip_required=st.booleans(),
    lax=st.booleans(),
)
def test_mutated_files_get_the_same_verdict(
    sample: tuple[str, Any],
    schema: tuple[str, dict],
    pick: int,
    how: str,
    value: Any,
    key: str,
    skip_required: bool,
    lax: bool,
) -> None:
    data = sample[1]
    paths = _paths(data)
    mutated = _mutate(data, paths[pick % len(paths)], how, value, key)
    predicate = compiled(schema[1], skip_required=skip_required, lax=lax)
    assert predicate(mutated) == jsonschema_says(schema[1], mutated, skip_required=skip_required, lax=lax)


@settings(max_examples=300, deadline=None)
@given(value=VALUES, schema=st.sampled_from(SCHEMAS), lax=st.booleans())
def test_arbitrary_values_get_the_same_verdict(value: Any, schema: tuple[str, dict], lax: bool) -> None:
    assert compiled(schema[1], lax=lax)(value) == jsonschema_says(schema[1], value, lax=lax)


def test_validate_finds_the_same_problems_with_and_without_the_predicates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The predicates only skip jsonschema for valid documents: over Axolotl's 250 example
    configs (tests/data/axolotl-examples: many of them invalid), the seeded mistakes and the
    shipped examples, every problem found, every message and line, is the same without them."""
    from seeded_mistakes import CASES

    from axowrap import schema_check
    from axowrap.validate import validate_axolotl, validate_path
    from axowrap.yamlio import parse_yaml

    files = sorted(
        p for p in (REPO / "tests" / "data" / "axolotl-examples").rglob("*") if p.suffix in (".yml", ".yaml")
    )
    files += sorted((REPO / "examples").glob("*.yaml"))
    assert len(files) > 250

    def everything() -> list[list[str]]:
        out = [[p.render() for p in validate_path(f).problems] for f in files]
        for case in CASES:
            doc = parse_yaml(case.text, "case.yaml", yaml12_floats=False)
            out.append([p.render() for p in validate_axolotl(doc).problems])
        return out

    used: list[bool] = []
    real = schema_check._predicate

    def counted(*args: Any) -> Any:
        made = real(*args)
        used.append(made is not None)
        return made

    monkeypatch.setattr(schema_check, "_predicate", counted)
    with_predicates = everything()
    assert any(used)
    monkeypatch.setattr(schema_check, "_predicate", lambda *args: None)
    assert everything() == with_predicates
    assert sum(1 for found in with_predicates if found) > 90  # the corpus's own mistakes were seen
