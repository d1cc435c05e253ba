"""Unknown keys at every level of an Axolotl config, as Axolotl's pydantic models see them.

Axolotl's models ignore keys they do not define, at the top level and in every typed
sub-object (fsdp_config, special_tokens, trl, peft, datasets[] and their custom prompt types,
...): the value is silently dropped. The walk follows the generated schema: a `$defs` entry
with properties is such a model; a free-form mapping (`additionalProperties: true`) is not.
`datasets:` entries become the model validate_config picks for them (DPODataset under
`rl: dpo`, ...: the table `dataset_types.dataset_models`). Names a model accepts beyond its
schema properties (populate_by_name, AliasChoices) come from the table `accepted_names`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from axowrap.problems import Problem, did_you_mean
from axowrap.yamlio import Document

DROPPED = "(Axolotl would silently ignore it)"


@dataclass
class Walk:
    doc: Document
    schema: dict[str, Any]
    tables: dict[str, Any]
    version: str
    plugin_of: dict[str, str]  # fields of bundled plugins that are not listed
    unsure: bool = False  # a listed plugin's fields are unknown: unknown keys only warn

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return self.resolve(self.schema["$defs"][ref.rsplit("/", 1)[1]])
        return node

    def branches(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        node = self.resolve(node)
        if "anyOf" in node or "oneOf" in node:
            return [b for sub in node.get("anyOf", node.get("oneOf", [])) for b in self.branches(sub)]
        return [node]


def _model_name(node: dict[str, Any]) -> str | None:
    return node.get("title") if "properties" in node else None


def dataset_model(tables: dict[str, Any], rl: Any, entry: dict[str, Any]) -> str:
    """The model validate_config turns a `datasets:` entry into (rl first, then the type)."""
    models = tables["dataset_types"]["dataset_models"]
    kind = entry.get("type")
    return models.get(f"rl: {rl}") or (models.get(f"type: {kind}") if isinstance(kind, str) else None) or models["*"]


def dataset_fields(version: str, rl: Any, entry: dict[str, Any]) -> tuple[str, set[str]]:
    """(model, the keys it keeps) for a `datasets:` entry under `rl` in Axolotl `version`."""
    from axowrap.releases import schema, tables

    name = dataset_model(tables(version), rl, entry)
    node = schema(version)["$defs"][name]
    return name, set(node.get("properties", {})) | set(tables(version)["accepted_names"].get(name, {}))


MAX_UNKNOWN = 100  # unknown keys reported one by one per mapping; the rest are counted
WRONG_FILE = "is this the right file?"


def unknown_keys(walk: Walk, data: dict[str, Any], prefix: tuple) -> Iterator[Problem]:
    """Every key Axolotl would drop in `data` (a whole config, or a spec's `axolotl:` section)."""
    root = walk.schema
    extra = walk.tables["accepted_names"].get("$root", {})
    yield from _model(walk, data, root, prefix, "Axolotl", extra, top=True)
    rl = data.get("rl")
    entries = data.get("datasets")
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, dict):
                name = dataset_model(walk.tables, rl, entry)
                node = root["$defs"][name]
                where = "dataset" if name == "SFTDataset" else f"dataset ({name}, as rl: {rl} reads it)"
                yield from _model(walk, entry, node, (*prefix, "datasets", i), where, None)


def _known(walk: Walk, node: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    names = walk.tables["accepted_names"].get(node.get("title", ""), {})
    return set(node.get("properties", {})) | set(names), names


def _model(
    walk: Walk,
    data: dict[str, Any],
    node: dict[str, Any],
    path: tuple,
    where: str,
    extra: dict[str, str] | None,
    *,
    top: bool = False,
) -> Iterator[Problem]:
    known, names = _known(walk, node)
    if extra:
        known |= set(extra)
    renamed = _fsdp_prefix(data) if node.get("title") == "FSDPConfig" else {}
    if node.get("title") == "FSDPConfig":  # FSDP1's settings: combos.fsdp1_only says it
        fsdp1 = walk.tables.get("fsdp1_only") or {}
        known |= {*fsdp1.get("refused", {}), *fsdp1.get("ignored", {})}
    said = 0
    keys = list(data)
    for i, (key, value) in enumerate(data.items()):
        field = renamed.get(key, key)
        if field in known:
            prop = node["properties"].get(field) or node["properties"].get(names.get(field, ""), {})
            if not (top and field == "datasets"):  # datasets[] are walked with their own model
                yield from _value(walk, value, prop, (*path, key))
            continue
        if said == MAX_UNKNOWN:  # a file that is not an Axolotl config at all: counted, not listed
            rest = sum(1 for k in keys[i:] if renamed.get(k, k) not in known)
            yield walk.doc.problem(
                (*path, key),
                f"{rest:,} more unknown {where} keys (not listed) after the {MAX_UNKNOWN} reported",
                hint=WRONG_FILE,
            )
            said += 1
        if said > MAX_UNKNOWN:
            continue
        problem = _unknown(walk, key, field, value, known, path, where, top)
        if problem is not None:
            said += 1
            yield problem


def _unknown(
    walk: Walk, key: Any, field: Any, value: Any, known: set[str], path: tuple, where: str, top: bool
) -> Problem | None:
    from axowrap.releases import where_known

    doc = walk.doc
    here = (*path, key)
    if top and str(key) in walk.tables["deprecated"]:
        return None  # axowrap.config.combos.deprecated says it, in Axolotl's words
    plugin = walk.plugin_of.get(str(key)) if top else None
    if plugin:
        return doc.problem(
            here,
            f"{key!r} is a field of the plugin {plugin}, which is not listed {DROPPED}",
            hint=f"add `plugins: [{plugin}]`",
        )
    elsewhere = where_known(str(key), walk.version) if top else []
    if elsewhere:
        newer = [v for v in elsewhere if _after(v, walk.version)]
        when = (
            f"added after Axolotl {walk.version} (Axolotl {', '.join(newer)} has it)"
            if newer
            else f"removed after Axolotl {', '.join(elsewhere)} (Axolotl {walk.version} does not have it)"
        )
        return doc.problem(here, f"{key!r} was {when} {DROPPED}", hint="check with the Axolotl release you run")
    guess = did_you_mean(str(field), known)
    message = f"unknown {where} key {key!r}" + (f"; did you mean {guess!r}?" if guess else "") + f" {DROPPED}"
    if value is None:
        # an empty value changes nothing: Axolotl drops a null it would not have used anyway
        return doc.problem(here, message.replace(DROPPED, "(it is empty, so this changes nothing)"), severity="warning")
    hint = None if guess else "see `axowrap schema axolotl` for the known keys"
    return doc.problem(here, message, hint=hint, severity="warning" if walk.unsure else "error")


def _after(a: str, b: str) -> bool:
    return tuple(map(int, a.split("."))) > tuple(map(int, b.split(".")))


def _fsdp_prefix(data: dict[str, Any]) -> dict[str, str]:
    """Axolotl strips `fsdp_` from fsdp_config keys (but fsdp_version) before its model reads
    them, with a deprecation warning (utils/schemas/validation.py)."""
    return {k: k[len("fsdp_") :] for k in data if isinstance(k, str) and k.startswith("fsdp_") and k != "fsdp_version"}


def _value(walk: Walk, value: Any, prop: dict[str, Any], path: tuple) -> Iterator[Problem]:
    if isinstance(value, dict):
        models = [b for b in walk.branches(prop) if _model_name(b)]
        free = any(b.get("type") == "object" and "properties" not in b for b in walk.branches(prop))
        if models and not free:
            merged = {"title": models[0]["title"], "properties": {}}
            for m in models:  # a union of models keeps a key any member knows (pydantic picks one)
                merged["properties"].update(m["properties"])
            named = [p for p in path if isinstance(p, str)]
            where = {"type": "prompt format"}.get(named[-1], named[-1]) if named else "Axolotl"
            yield from _model(walk, value, merged, path, where, None)
    elif isinstance(value, list):
        items: list[dict[str, Any]] = [
            b["items"] for b in walk.branches(prop) if b.get("type") == "array" and isinstance(b.get("items"), dict)
        ]
        for i, item in enumerate(value):
            for schema in items[:1]:
                yield from _value(walk, item, schema, (*path, i))
