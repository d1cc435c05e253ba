"""Validate a spec or a hand-written Axolotl config: every problem, before any GPU time.

The layer above the rule registry: `load_spec` reads a spec (axowrap.spec.read) and, when it
passed the schema, runs the feature rules (axowrap.rules) on it. The pipeline, the team
tools and the CLI load specs through here. Each check is for one Axolotl release
(axowrap.releases: the installed one, `--axolotl`, the spec's `compute.axolotl`, the newest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.config.check import MARKER_KEYS, check_config
from axowrap.errors import ValidationFailed
from axowrap.problems import Problem, sort_problems
from axowrap.releases import Release, choose
from axowrap.rules import check_rules
from axowrap.spec.model import Spec
from axowrap.spec.read import read_spec
from axowrap.targets import Target
from axowrap.yamlio import Document, load_yaml, parse_yaml

SPEC = "spec"
AXOLOTL = "axolotl config"


@dataclass
class Report:
    file: str
    kind: str
    problems: list[Problem] = field(default_factory=list)
    target: Target | None = None
    release: Release | None = None

    def __post_init__(self) -> None:
        self.problems = sort_problems(self.problems)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def detect(doc: Document) -> str:
    data = doc.data
    if isinstance(data, dict) and "task" in data:
        return SPEC
    if isinstance(data, dict) and "extends" in data and not (MARKER_KEYS & set(data)):
        return SPEC
    if isinstance(data, dict) and MARKER_KEYS & set(data):
        return AXOLOTL
    return SPEC  # the spec checks give the most helpful messages for anything else


def _deep(config: dict[str, Any], target: Target, doc: Document, static: list[Problem], version: str) -> list[Problem]:
    """Axolotl's own verdict, less what the static checks already said at the same place."""
    from axowrap.config.deep import deep_check
    from axowrap.errors import AxowrapError

    try:
        found = deep_check(config, target, doc, version=version, static=static)
    except AxowrapError as exc:  # no Axolotl here, or another release: said once, the static checks stand
        return [doc.problem((), exc.message, hint=exc.hint)]
    said = {p.path for p in static if p.severity == "error"}
    return [p for p in found if p.path not in said or p.severity != "error"]


def rendered_problems(spec: Spec, rendered: Any, deep: bool) -> list[Problem]:
    """Check the rendered config; problems in `axolotl:` overrides point into the spec."""
    rdoc = parse_yaml(rendered.text, f"{spec.path} (rendered)", yaml12_floats=False)
    found = check_config(rdoc, version=spec.axolotl)
    if deep:
        found += _deep(rendered.config, rendered.target, rdoc, found, spec.axolotl)
    # Problems in keys from the spec's `axolotl:` section were reported when the spec was
    # loaded, where the user wrote them; the rendered config adds what only the whole config
    # shows: the combinations (Axolotl's cross-field rules) and Axolotl's own validator (deep).
    overrides = spec.data.get("axolotl") or {}
    out = []
    for p in found:
        switch = p.extra.get("switch")
        if switch and p.path and p.path[0] not in overrides:  # a speed switch's package: point at the spec
            out.append(
                spec.problem(
                    ("speed", switch) if switch in (spec.data.get("speed") or {}) else ("compute", "target"),
                    p.message,
                    hint=p.hint,
                )
            )
        elif p.path and p.path[0] in overrides:
            if "Axolotl (" in p.message or "axolotl_says" in p.extra:
                out.append(spec.problem(("axolotl", *p.path), p.message, hint=p.hint, severity=p.severity))
        else:
            out.append(p)
    return out


def load_spec(path: Path | str, *, skip: Iterable[str] = (), axolotl: str | None = None) -> Spec:
    """The effective spec at `path` with every rule checked (but those named in `skip`), or
    ValidationFailed with every problem found. Rules never run on a spec that failed the schema."""
    spec = read_spec(path, axolotl=axolotl)
    problems = [*spec.warnings, *check_rules(spec, skip)]
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    spec.warnings = problems
    return spec


def render_checked(
    path: Path, *, target: Target | str | None = None, deep: bool = False, axolotl: str | None = None
) -> tuple[Any, list[Problem]]:
    """Load, render and check a spec: (rendered config, warnings), or ValidationFailed."""
    from axowrap.config.render import render_spec

    spec = load_spec(path, axolotl=axolotl)
    tgt = spec.target(target) if target is not None else None
    rendered = render_spec(spec, target=tgt)
    problems = [*spec.warnings, *rendered_problems(spec, rendered, deep)]
    if deep:  # what needs the network: the MLflow tracking server answers
        from axowrap.rules.tracking import mlflow_server

        problems += mlflow_server(spec)
    if tgt is not None:  # the spec rules checked compute.target; check the one asked for too
        from axowrap.rules.fit import fit_problems
        from axowrap.rules.speed import speed_problems

        problems += speed_problems(spec, tgt) + fit_problems(spec, tgt)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    return rendered, problems


def validate_spec(
    path: Path, *, target: Target | str | None = None, deep: bool = False, axolotl: str | None = None
) -> Report:
    try:
        rendered, warnings = render_checked(path, target=target, deep=deep, axolotl=axolotl)
    except ValidationFailed as exc:
        return Report(str(path), SPEC, exc.problems)
    return Report(str(path), SPEC, warnings, rendered.target, rendered.release)


def duplicates(doc: Document) -> list[Problem]:
    """PyYAML (Axolotl's reader) keeps the last of two equal keys, silently: an error when the
    two values differ, a warning when they are the same."""
    from dataclasses import replace

    return [p if not p.extra.get("same") else replace(p, severity="warning") for p in doc.duplicates]


def validate_axolotl(
    doc: Document, *, target: Target | str | None = None, deep: bool = False, axolotl: str | None = None
) -> Report:
    release = choose(axolotl)
    problems = check_config(doc, version=release.version) + duplicates(doc)
    if isinstance(target, str):
        from axowrap.targets import parse_target

        target = parse_target(target)
    if deep and isinstance(doc.data, dict):
        from axowrap.targets import get_target

        tgt = target or get_target("cpu")
        problems += _deep(doc.data, tgt, doc, problems, release.version)
        return Report(doc.file, AXOLOTL, problems, tgt, release)
    return Report(doc.file, AXOLOTL, problems, target, release)


def validate_path(
    path: Path, *, target: Target | str | None = None, deep: bool = False, axolotl: str | None = None
) -> Report:
    """Validate one file, spec or Axolotl config (detected)."""
    # Axolotl reads its configs with YAML 1.1, so raw configs are parsed the same way.
    doc = load_yaml(path, yaml12_floats=False)
    if detect(doc) == AXOLOTL:
        return validate_axolotl(doc, target=target, deep=deep, axolotl=axolotl)
    return validate_spec(path, target=target, deep=deep, axolotl=axolotl)
