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
from axowrap.problems import Path_, Problem
from axowrap.releases import Release
from axowrap.schema_check import check
from axowrap.spec.layers import Sources, layered
from axowrap.spec.model import Spec, spec_schema
from axowrap.spec.presets import Preset, get_preset, preset_names
from axowrap.yamlio import Document, load_yaml

PRESET_BASE = "preset _base"


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
        shown = Path(os.path.normpath(path.parent / rel))
        base = shown.resolve()
        if base in stack or base == path.resolve():
            chain = " -> ".join(_shown(p) for p in (*stack, path.resolve(), base))
            problems.append(doc.problem(where, f"extends cycle: {chain}", hint="remove one of the `extends` links"))
            continue
        if not base.is_file():
            problems.append(
                doc.problem(
                    where,
                    f"base spec {rel!r} not found (looked for {base})",
                    hint="paths in `extends` are relative to the spec that names them",
                )
            )
            continue
        try:
            layers.extend(_load_chain(shown, (*stack, path.resolve()), problems, docs, sections))
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


def _release(spec: Spec, flag: str | None, problems: list[Problem]) -> Release | None:
    """The Axolotl release to check against (axowrap.releases.choose), or None with a problem."""
    from axowrap.errors import UsageError
    from axowrap.releases import choose, installed

    pin = (spec.data.get("compute") or {}).get("axolotl")
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


def read_spec(path: Path | str, *, axolotl: str | None = None) -> Spec:
    """The effective spec at `path` (files, `extends`, presets; schema-checked), or
    ValidationFailed with every problem found. Feature rules do not run here: they run on a
    spec that passed the schema (axowrap.validate.load_spec). `axolotl` is `--axolotl`."""
    path = Path(path)
    problems: list[Problem] = []
    docs: dict[str, Document] = {}
    sections: list[tuple[Document, dict[str, Any]]] = []
    layers = _load_chain(path, (), problems, docs, sections)
    doc = docs.get(str(path))
    if doc is None or not layers:
        raise ValidationFailed(problems)
    user, _ = layered(layers)
    task = user.get("task")
    if task not in preset_names():
        if "task" not in user:
            problems.append(doc.problem((), "missing required key 'task'", hint=f"one of: {', '.join(preset_names())}"))
        _check_sections(sections, None, problems)
        raise ValidationFailed(problems)
    preset = get_preset(task)
    data, sources = layered([(PRESET_BASE, preset.base_defaults), (f"preset {task}", preset.defaults), *layers])
    _restore(data, preset.restored, sources)
    _dataset_defaults(data, preset, sources)
    spec = Spec(path=path, doc=doc, data=data, sources=sources, docs=docs)
    spec.release = _release(spec, axolotl, problems)
    if spec.release is not None:
        _check_sections(sections, spec.release.version, problems)
    for err in check(data, spec_schema(), doc):
        if err.message.startswith("missing required key"):
            problems.append(err)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    spec.warnings = [p for p in problems if p.severity != "error"]
    return spec
