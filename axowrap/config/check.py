"""Check an Axolotl config (rendered or hand-written) against Axolotl's generated schema.

Axolotl itself silently drops unknown keys (`lora_rr: 8` trains with `lora_r` unset and
crashes minutes later), so here every unknown key is an error with a did-you-mean, at the top
level and inside dataset entries, with the fields of any listed plugin counted as known.
No torch or axolotl import: this runs in milliseconds.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import cache
from typing import Any

from axowrap import AXOLOTL_VERSION
from axowrap.problems import Problem, did_you_mean
from axowrap.resources import schema_file
from axowrap.schema_check import check, load_schema
from axowrap.yamlio import FLOAT_LOOKING, Document

DATASET_LISTS = ("datasets", "test_datasets")
DATASET_MODELS = ("SFTDataset", "DPODataset", "KTODataset", "StepwiseSupervisedDataset", "SyntheticDataset")
# The user-defined prompt formats a dataset's `type:` may be given as a mapping.
TYPE_MODELS = ("UserDefinedPrompterType", "UserDefinedDPOType")
# Keys that tell a raw Axolotl config from an axowrap spec.
MARKER_KEYS = frozenset({"base_model", "datasets", "adapter", "micro_batch_size", "output_dir"})


def base_schema() -> dict[str, Any]:
    return load_schema(schema_file(f"axolotl-{AXOLOTL_VERSION}.schema.json"))


def plugin_names() -> list[str]:
    return sorted(base_schema().get("x-axolotl-plugins", {}))


@cache
def schema_with_plugins(plugins: tuple[str, ...]) -> dict[str, Any]:
    """The schema with the listed bundled plugins' fields merged in at the top level."""
    base = base_schema()
    if not plugins:
        return base
    merged = copy.copy(base)
    merged["properties"] = dict(base["properties"])
    merged["$defs"] = dict(base["$defs"])
    for name in plugins:
        extra = base.get("x-axolotl-plugins", {}).get(name)
        if extra:
            merged["properties"].update(extra["properties"])
            merged["$defs"].update(extra["$defs"])
    return merged


def _model_keys(schema: dict[str, Any], names: tuple[str, ...]) -> set[str]:
    keys: set[str] = set()
    for name in names:
        keys.update(schema["$defs"].get(name, {}).get("properties", {}))
    return keys


@cache
def _plugin_of_field() -> dict[str, str]:
    """{field: plugin} for the fields that only bundled plugins add."""
    out: dict[str, str] = {}
    for name, extra in sorted(base_schema().get("x-axolotl-plugins", {}).items(), reverse=True):
        for key in extra["properties"]:
            out[key] = name  # the shortest spelling of the plugin's path wins (sorted last)
    return out


MAX_UNKNOWN = 100  # unknown keys reported one by one per mapping; the rest are counted


def _unknown(doc: Document, path: tuple, mapping: dict, known: set[str], where: str) -> list[Problem]:
    out: list[Problem] = []
    unknown = [key for key in mapping if key not in known]
    if len(unknown) > MAX_UNKNOWN:
        out.append(
            doc.problem(
                (*path, unknown[MAX_UNKNOWN]),
                f"{len(unknown) - MAX_UNKNOWN:,} more unknown {where} keys after the {MAX_UNKNOWN} reported",
                hint="is this the right file?",
            )
        )
    for key in unknown[:MAX_UNKNOWN]:
        plugin = _plugin_of_field().get(key) if where == "Axolotl" else None
        if key not in known and plugin:
            out.append(
                doc.problem(
                    (*path, key),
                    f"{key!r} is a field of the plugin {plugin}, which is not listed",
                    hint=f"add `plugins: [{plugin}]`",
                )
            )
        elif key not in known:
            guess = did_you_mean(str(key), known)
            out.append(
                doc.problem(
                    (*path, key),
                    f"unknown {where} key {key!r}"
                    + (f"; did you mean {guess!r}?" if guess else "")
                    + " (Axolotl would silently ignore it)",
                    hint=None if guess else "see `axowrap schema axolotl` for the known keys",
                )
            )
    return out


def _number_strings(doc: Document, path: tuple, data: Any, schema: dict[str, Any]) -> list[Problem]:
    """`learning_rate: 2e-5` is a *string* to YAML 1.1 readers such as Axolotl's."""
    out = []
    for key, value in data.items() if isinstance(data, dict) else []:
        prop = schema["properties"].get(key)
        if not (prop and isinstance(value, str) and FLOAT_LOOKING.match(value)):
            continue
        accepts = {s.get("type") for s in prop.get("anyOf", [prop])}
        if accepts & {"number", "integer"}:
            mantissa, _, exp = value.lower().partition("e")
            fixed = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exp}"
            out.append(
                doc.problem(
                    (*path, key),
                    f"{value!r} is read as a string by YAML 1.1 (Axolotl's loader), not a number",
                    hint=f"write {fixed} (a dot in the mantissa makes it a number)",
                )
            )
    return out


def check_config(doc: Document, data: Any = None, prefix: tuple = (), *, partial: bool = False) -> list[Problem]:
    """Every problem in an Axolotl config mapping. `prefix` locates it inside `doc`;
    `partial` checks a fragment (a spec's `axolotl:` section): required keys are not asked for."""
    data = doc.data if data is None else data
    if not isinstance(data, dict):
        return [doc.problem(prefix, "an Axolotl config must be a mapping of keys to values")]
    plugins = data.get("plugins") or []
    plugins = tuple(sorted(p for p in plugins if isinstance(p, str))) if isinstance(plugins, list) else ()
    schema = schema_with_plugins(plugins)
    known = set(schema["properties"])
    # axowrap's own plugins (axowrap.distributed.cpu_ddp) add no config fields.
    foreign = [p for p in plugins if p not in schema.get("x-axolotl-plugins", {}) and not p.startswith("axowrap.")]
    problems = [
        doc.problem(
            (*prefix, "plugins"),
            f"plugin {name!r} is not bundled with Axolotl {AXOLOTL_VERSION}; "
            "keys it adds cannot be checked, so unknown keys are only warnings",
            severity="warning",
        )
        for name in foreign
    ]
    unknown = _unknown(doc, prefix, data, known, "Axolotl")
    if foreign:
        unknown = [replace(p, severity="warning") for p in unknown]
    problems += unknown
    problems += _number_strings(doc, prefix, data, schema)
    dataset_keys = _model_keys(schema, DATASET_MODELS)
    type_keys = _model_keys(schema, TYPE_MODELS)
    for list_key in DATASET_LISTS:
        entries = data.get(list_key)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            problems += _unknown(doc, (*prefix, list_key, i), entry, dataset_keys, "dataset")
            if isinstance(entry.get("type"), dict):
                problems += _unknown(doc, (*prefix, list_key, i, "type"), entry["type"], type_keys, "prompt format")
    known_data = {k: v for k, v in data.items() if k in known}
    problems += check(known_data, schema, doc, prefix=prefix, skip_required=partial)
    return problems
