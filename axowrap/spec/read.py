"""Read a spec: parse, follow `extends`, check each file against the spec schema and lay the
task preset underneath. All problems are collected and raised once.

This is the first layer of validation; the feature rules (axowrap.rules) run on what it
returns, through `axowrap.validate.load_spec`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from axowrap.errors import SpecError, ValidationFailed
from axowrap.files import ALLOW_OUTSIDE, exists
from axowrap.problems import Path_, Problem, short_repr
from axowrap.releases import Release
from axowrap.schema_check import check
from axowrap.spec.layers import Sources, layered
from axowrap.spec.model import Spec, is_within, named_paths, spec_root, spec_schema, unnameable
from axowrap.spec.overrides import Override, relocate
from axowrap.spec.overrides import apply as apply_override
from axowrap.spec.presets import Preset, get_preset, preset_names
from axowrap.yamlio import Document, load_yaml

PRESET_BASE = "preset _base"


def outside_problem(doc: Document, where: Path_, named: str, found: Path, root: Path | None) -> Problem:
    return doc.problem(
        where,
        f"{named!r} is outside the repo ({found} is not under {root}); not reading it",
        hint="keep the files a spec uses inside its repo, or run `axowrap --allow-outside ...` if you trust it",
    )


MISSING_TASK = "missing `task:` (the task preset this spec starts from)"


def _extends_list(doc: Document) -> list[str]:
    ext = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if isinstance(ext, str):
        return [ext]
    if isinstance(ext, list):
        return [e for e in ext if isinstance(e, str)]
    return []


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _load_chain(
    path: Path,
    stack: tuple[Path, ...],
    problems: list[Problem],
    docs: dict[str, Document],
    sections: list[tuple[Document, dict[str, Any]]],
    root: Path | None,
) -> list[tuple[str, dict[str, Any]]]:
    """Layers for `path`: its bases (depth first, in order), then the file itself."""
    doc = load_yaml(path, what="spec")
    docs[doc.file] = doc
    problems.extend(doc.duplicates)
    if doc.data is None:
        problems.append(doc.problem((), "the spec is empty", hint="start from `axowrap new --task TASK`"))
        return []
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), f"a spec must be a mapping of keys to values, not a {type(doc.data).__name__}"))
        return []
    # `null` means "remove this inherited key", so it is valid anywhere in a spec file.
    problems.extend(check(_without_nulls(doc.data), spec_schema(), doc, skip_required=True))
    overrides = doc.data.get("axolotl")
    if isinstance(overrides, dict):
        sections.append((doc, overrides))  # checked once the Axolotl release is known
    layers: list[tuple[str, dict[str, Any]]] = []
    for i, rel in enumerate(_extends_list(doc)):
        where = ("extends",) if isinstance(doc.data["extends"], str) else ("extends", i)
        why = unnameable(rel)
        if why:
            problems.append(doc.problem(where, f"{short_repr(rel)} cannot name a file: {why}"))
            continue
        shown = Path(os.path.normpath(path.parent / rel))
        base = shown.resolve()
        if base in stack or base == path.resolve():
            chain = " -> ".join(_shown(p) for p in (*stack, path.resolve(), base))
            problems.append(doc.problem(where, f"extends cycle: {chain}", hint="remove one of the `extends` links"))
            continue
        if not ALLOW_OUTSIDE.get() and not is_within(base, root):
            problems.append(outside_problem(doc, where, rel, base, root))
            continue
        if not exists(base):
            problems.append(
                doc.problem(
                    where,
                    f"base spec {rel!r} not found (looked for {base})",
                    hint="paths in `extends` are relative to the spec that names them",
                )
            )
            continue
        try:
            layers.extend(_load_chain(shown, (*stack, path.resolve()), problems, docs, sections, root))
        except SpecError as exc:
            problems.append(doc.problem(where, exc.message, hint=exc.hint))
    own = {k: v for k, v in doc.data.items() if k != "extends"}
    layers.append((doc.file, own))
    return layers


def _dataset_defaults(data: dict[str, Any], preset: Preset, sources: Sources) -> None:
    """Lay the preset's dataset defaults under each entry that uses the preset's format."""
    for i, entry in enumerate(data.get("datasets") or []):
        if not isinstance(entry, dict):
            continue
        fmt = entry.get("format", preset.dataset.get("format"))
        if fmt != preset.dataset.get("format"):
            continue
        for key, value in preset.dataset.items():
            if key not in entry:
                entry[key] = value
                sources[("datasets", i, key)] = f"preset {preset.name}"


def _restore(data: dict[str, Any], defaults: dict[str, Any], sources: Sources, path: Path_ = ()) -> None:
    """Put back the defaults every run needs where a layer removed them with `null`."""
    for key, value in defaults.items():
        here = (*path, key)
        if key not in data:
            data[key] = copy.deepcopy(value)
            sources[here] = PRESET_BASE
        elif isinstance(value, dict) and isinstance(data[key], dict):
            _restore(data[key], value, sources, here)


def _with_overrides(user: dict[str, Any], overrides: tuple[Override, ...]) -> dict[str, Any]:
    """The files' layers with the overrides on top (to know the task before presets are laid)."""
    out = copy.deepcopy(user)
    for override in overrides:
        apply_override(out, {}, override)
    return out


def _override_problems(
    data: dict[str, Any], overrides: tuple[Override, ...], version: str | None = None
) -> list[Problem]:
    """Schema problems of what the overrides set, each located at its `--set`."""
    if not overrides:
        return []
    found = check(_without_nulls(data), spec_schema(), Document(data=data, file="--set"), skip_required=True)
    if any(o.path[0] == "axolotl" for o in overrides) and isinstance(data.get("axolotl"), dict):
        from axowrap.config.check import check_config

        found += check_config(
            Document(data=data, file="--set"), data["axolotl"], ("axolotl",), partial=True, version=version
        )
    return [p for p in (relocate(problem, overrides) for problem in found) if p is not None]


def _release(spec: Spec, flag: str | None, problems: list[Problem]) -> Release | None:
    """The Axolotl release to check against (axowrap.releases.choose), or None with a problem."""
    from axowrap.errors import UsageError
    from axowrap.releases import choose, installed

    pin = spec.axolotl_pin
    try:
        release = choose(flag, pin)
    except UsageError as exc:
        problems.append(spec.problem(("compute", "axolotl"), exc.message, hint=exc.hint))
        return None
    if pin and pin != release.version and release.chosen_by == "installed":
        problems.append(
            spec.problem(
                ("compute", "axolotl"),
                f"the spec pins Axolotl {pin}, but Axolotl {installed()} is installed: checked against {installed()}",
                hint="install the pinned release, or change the pin (`axowrap lock` records what was used)",
                severity="warning",
            )
        )
    return release


def _check_sections(
    sections: list[tuple[Document, dict[str, Any]]], version: str | None, problems: list[Problem]
) -> None:
    """Check each file's `axolotl:` section (raw Axolotl keys) for the chosen release."""
    from axowrap.config.check import check_config
    from axowrap.errors import UsageError

    for doc, overrides in sections:
        try:
            problems.extend(check_config(doc, overrides, ("axolotl",), partial=True, version=version))
        except UsageError:  # no usable release: reported at compute.axolotl
            return


def read_spec(path: Path | str, overrides: tuple[Override, ...] = (), *, axolotl: str | None = None) -> Spec:
    """The effective spec at `path` (files, `extends`, presets, then `--set` overrides;
    schema-checked), or ValidationFailed with every problem found. Feature rules do not run
    here: they run on a spec that passed the schema (axowrap.validate.load_spec). `axolotl` is
    `--axolotl`."""
    path = Path(path)
    problems: list[Problem] = []
    docs: dict[str, Document] = {}
    sections: list[tuple[Document, dict[str, Any]]] = []
    layers = _load_chain(path, (), problems, docs, sections, spec_root(path))
    doc = docs.get(str(path))
    if doc is None or not layers:
        raise ValidationFailed(problems)
    user, _ = layered(layers)
    task = _with_overrides(user, overrides).get("task")
    if task not in preset_names():
        if "task" not in user and not any(o.path == ("task",) for o in overrides):
            problems.append(
                doc.problem((), MISSING_TASK, hint=f"add `task: TASK`, one of: {', '.join(preset_names())}")
            )
        elif any(o.path == ("task",) for o in overrides):
            problems += _override_problems({"task": task}, overrides)
        _check_sections(sections, None, problems)
        raise ValidationFailed(problems)
    preset = get_preset(task)
    data, sources = layered([(PRESET_BASE, preset.base_defaults), (f"preset {task}", preset.defaults), *layers])
    for override in overrides:
        bad = apply_override(data, sources, override)
        if bad is not None:
            problems.append(bad)
    _restore(data, preset.restored, sources)
    _dataset_defaults(data, preset, sources)
    spec = Spec(path=path, doc=doc, data=data, sources=sources, docs=docs, overrides=overrides)
    spec.release = _release(spec, axolotl, problems)
    if spec.release is not None:
        _check_sections(sections, spec.release.version, problems)
    for err in check(data, spec_schema(), doc):
        if err.message.startswith("missing required key"):
            problems.append(err)
    for where, value in named_paths(data):
        why = unnameable(value)
        if why:
            problems.append(spec.problem(where, f"{short_repr(value)} cannot name a file or a repo: {why}"))
    problems += _override_problems(data, overrides, spec.axolotl if spec.release is not None else None)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    spec.warnings = [p for p in problems if p.severity != "error"]
    return spec


def recheck_effective(data: Any, file: str) -> dict[str, Any]:
    """An effective spec recorded earlier (a run's manifest.json), checked again before a step
    trusts it: a mapping naming a known task, every key the schema allows with the type it
    allows, and the defaults every run needs present. ValidationFailed otherwise."""
    doc = Document(data=data, file=file)
    if not isinstance(data, dict):
        raise ValidationFailed([doc.problem((), f"the effective spec must be a mapping, not {type(data).__name__}")])
    if data.get("task") not in preset_names():
        raise ValidationFailed([doc.problem(("task",), f"task {data.get('task')!r} is not a task preset")])
    data = copy.deepcopy(data)
    _restore(data, get_preset(data["task"]).restored, {})
    problems = check(data, spec_schema(), doc)
    if problems:
        raise ValidationFailed(problems)
    return data


def base_values(base: Path) -> dict[str, Any]:
    """What a spec extending `base` inherits from it (its own `extends` followed; no presets),
    or ValidationFailed when the base has errors."""
    problems: list[Problem] = []
    layers = _load_chain(base, (), problems, {}, [], spec_root(base))
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    values, _ = layered(layers)
    return values
