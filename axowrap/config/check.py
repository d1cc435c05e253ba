"""Check an Axolotl config (rendered or hand-written) against what an Axolotl release does with it.

An error means Axolotl refuses the config, fails later (loading, data preparation, training)
or silently drops or misreads a value; a value Axolotl converts into exactly what was written
(`learning_rate: 2e-5`, a string to YAML 1.1) is at most an `info`. Checked, all from the
release's generated files (axowrap.releases), with no torch or Axolotl import:
- unknown keys at every level (axowrap.config.keys), plugin fields only when the plugin is listed;
- types, with pydantic's conversions (schema_check, lax);
- values Axolotl takes as free strings: optimizer, scheduler, adapter, attention, dataset types
  (axowrap.config.values);
- deprecated and removed keys, keys refused together, cross-field rules of Axolotl's
  validators, numbers left as text in free-form mappings (axowrap.config.combos).
"""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from typing import Any

from axowrap import releases
from axowrap.config import combos
from axowrap.config.keys import Walk, dataset_model, unknown_keys
from axowrap.config.values import value_problems
from axowrap.problems import Problem
from axowrap.schema_check import check, coerces
from axowrap.yamlio import Document

# Keys that tell a raw Axolotl config from an axowrap spec.
MARKER_KEYS = frozenset({"base_model", "datasets", "adapter", "micro_batch_size", "output_dir"})


def base_schema(version: str | None = None) -> dict[str, Any]:
    return releases.schema(version or releases.choose().version)


def plugin_names(version: str | None = None) -> list[str]:
    return sorted(base_schema(version).get("x-axolotl-plugins", {}))


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


@cache
def schema_with_plugins(version: str, plugins: tuple[str, ...]) -> dict[str, Any]:
    """The schema with the listed (and the release's built-in) plugins' fields at the top level."""
    base = releases.schema(version)
    known = base.get("x-axolotl-plugins", {})
    wanted = {_short(p) for p in (*plugins, *releases.tables(version)["builtin_plugins"])}
    if not wanted:
        return base
    merged = copy.copy(base)
    merged["properties"] = dict(base["properties"])
    merged["$defs"] = dict(base["$defs"])
    for name, extra in known.items():
        if _short(name) in wanted:
            merged["properties"].update(extra["properties"])
            merged["$defs"].update(extra["$defs"])
    return merged


@cache
def _model_schema(version: str, plugins: tuple[str, ...], model: str) -> dict[str, Any]:
    schema = schema_with_plugins(version, plugins)
    return {"$ref": f"#/$defs/{model}", "$defs": schema["$defs"]}


@cache
def _plugin_of_field(version: str) -> dict[str, str]:
    """{field: plugin} for the fields that only bundled plugins add."""
    out: dict[str, str] = {}
    for name, extra in sorted(releases.schema(version).get("x-axolotl-plugins", {}).items(), reverse=True):
        for key in extra["properties"]:
            out[key] = name  # the shortest spelling of the plugin's path wins (sorted last)
    return out


def _plugins(doc: Document, data: dict[str, Any], prefix: tuple, version: str) -> tuple[tuple[str, ...], list[Problem]]:
    listed = data.get("plugins") or []
    names = tuple(sorted(p for p in listed if isinstance(p, str))) if isinstance(listed, list) else ()
    bundled = {_short(n) for n in releases.schema(version).get("x-axolotl-plugins", {})}
    unreadable = releases.tables(version)["unreadable_plugins"]
    problems = []
    for name in names:
        if _short(name) in bundled or name.startswith("axowrap."):  # axowrap's own plugins add no fields
            continue
        why = next((w for p, w in unreadable.items() if _short(p) == _short(name)), None)
        reason = (
            f"is bundled with Axolotl {version}, but its fields could not be read ({why})"
            if why
            else f"is not bundled with Axolotl {version}"
        )
        problems.append(
            doc.problem(
                (*prefix, "plugins"),
                f"plugin {name!r} {reason}; keys it adds cannot be checked, so unknown keys are only warnings",
                severity="warning",
            )
        )
    return names, problems


def _coerced(doc: Document, data: dict[str, Any], prefix: tuple, schema: dict[str, Any]) -> list[Problem]:
    """`learning_rate: 2e-5` is text to YAML 1.1 (no dot), and Axolotl converts it: an info."""
    out = []
    for key, value in data.items():
        prop = schema["properties"].get(key)
        if not prop or not isinstance(value, (str, bool)):
            continue
        kinds = {s.get("type") for s in prop.get("anyOf", [prop])}
        if "string" in kinds or (isinstance(value, bool) and "boolean" in kinds):
            continue
        kind = next((k for k in ("integer", "number", "boolean") if k in kinds and coerces(value, k)), None)
        if kind:
            out.append(
                doc.problem(
                    (*prefix, key),
                    f"{value!r} is not a{'n' if kind == 'integer' else ''} {kind} as written; Axolotl converts it",
                    hint="fine as it is; write the plain number (`2.0e-5`) to make it one in YAML",
                    severity="info",
                )
            )
    return out


def check_config(
    doc: Document, data: Any = None, prefix: tuple = (), *, partial: bool = False, version: str | None = None
) -> list[Problem]:
    """Every problem in an Axolotl config mapping, for the Axolotl release `version` (default:
    the chosen one). `prefix` locates it inside `doc`; `partial` checks a fragment (a spec's
    `axolotl:` section): required keys are not asked for."""
    version = version or releases.choose().version
    data = doc.data if data is None else data
    if not isinstance(data, dict):
        return [doc.problem(prefix, "an Axolotl config must be a mapping of keys to values")]
    plugins, problems = _plugins(doc, data, prefix, version)
    schema = schema_with_plugins(version, plugins)
    tables = dict(releases.tables(version))
    tables["defaults"] = {"fsdp_version": schema["properties"].get("fsdp_version", {}).get("default")}
    tables["rewritten"] = _rewritten(plugins, tables)
    walk = Walk(doc, schema, tables, version, _plugin_of_field(version), unsure=bool(problems))
    found = list(unknown_keys(walk, data, prefix))
    problems += found
    problems += _coerced(doc, data, prefix, schema)
    problems += value_problems(doc, data, prefix, tables)
    # a spec's section (partial): rules that combine it with rendered keys run on the rendering
    cross = [] if partial else [combos.cross_field]
    for rule in (combos.deprecated, combos.fsdp1_only, combos.conflicts, *cross, combos.free_form_numbers):
        problems += rule(doc, data, prefix, tables)
    entries = data.get("datasets")
    per_entry = isinstance(entries, list) and bool(entries)
    known_data = {k: v for k, v in data.items() if k in schema["properties"] and not (per_entry and k == "datasets")}
    problems += check(known_data, schema, doc, prefix=prefix, skip_required=partial, lax=True)
    if per_entry and isinstance(entries, list):
        # each entry against the model validate_config makes of it (not the union of all of them)
        for i, entry in enumerate(entries):
            model = dataset_model(tables, data.get("rl"), entry) if isinstance(entry, dict) else "SFTDataset"
            sub = _model_schema(version, plugins, model)
            problems += check(entry, sub, doc, prefix=(*prefix, "datasets", i), lax=True)
    return [_unsure(p, tables["rewritten"], prefix) for p in problems] if tables["rewritten"] else problems


def _rewritten(plugins: tuple[str, ...], tables: dict[str, Any]) -> dict[str, str]:
    """{key: plugin} for the keys a listed plugin's register() assigns before Axolotl validates."""
    listed = {_short(p) for p in plugins}
    return {
        key: name for name, keys in tables.get("plugin_writes", {}).items() if _short(name) in listed for key in keys
    }


def _unsure(problem: Problem, rewritten: dict[str, str], prefix: tuple) -> Problem:
    """An error at a key a listed plugin rewrites first is only a warning: the plugin may change it."""
    key = problem.path[len(prefix) : len(prefix) + 1]
    if problem.severity != "error" or not key or key[0] not in rewritten:
        return problem
    return dataclasses.replace(
        problem,
        severity="warning",
        message=f"{problem.message} (unsure: the plugin {_short(rewritten[key[0]])} rewrites {key[0]!r} "
        "before Axolotl validates; `validate --deep` runs it)",
    )
