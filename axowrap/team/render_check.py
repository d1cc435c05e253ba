"""`render --all` / `render --check`: keep committed rendered configs equal to fresh renders.

Paths in a rendered config are relative to the repo root (the CLI's current directory), so CI,
pre-commit and people get byte-identical output when they run from the root.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.repo import RENDERED_DIR, RENDERED_SUFFIX, rendered_path

OK, WRITTEN, STALE, MISSING, INVALID = "up to date", "wrote", "out of date", "missing", "invalid"
ORPHAN, REMOVED = "no spec renders", "removed"  # a rendered config whose spec is gone or renamed


@dataclass
class Outcome:
    spec: Path
    dest: Path | None
    status: str
    diff: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (OK, WRITTEN, REMOVED)


def unified(old: str, new: str, committed: Path, spec: Path) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{committed} (committed)",
        tofile=f"{committed} (rendered from {spec})",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def sync_rendered(
    specs: list[Path],
    *,
    check: bool,
    dest: Path | None = None,
    root: Path = Path("."),
    prune: bool = False,
    use_cache: bool = True,
    jobs: int = 1,
) -> list[Outcome]:
    """Write (or, with `check`, compare) each spec's rendered config; one Outcome per spec.

    `dest` overrides the conventional `rendered/<name>.axolotl.yaml` (one spec only). With
    `prune` (all specs of the repo were given), rendered configs no spec renders to are
    reported (check) or removed (write; only when every spec rendered, so none is lost).
    Renderings are cached by content (axowrap.checkcache) and the misses made in up to `jobs`
    processes.
    """
    from axowrap.checkcache import render_files
    from axowrap.yamlio import atomic_write

    if dest is not None and len(specs) != 1:
        raise AxowrapError("-o/--output names one file, so it takes exactly one spec", hint="drop -o with --all")
    if dest is None:
        _inside(root / RENDERED_DIR, root)
    outcomes: list[Outcome] = []
    owners: dict[Path, Path] = {}
    for spec, rendering in zip(
        specs, render_files(specs, root, dest=dest, use_cache=use_cache, jobs=jobs), strict=True
    ):
        name, text, warnings = rendering.name, rendering.text, rendering.problems
        if name is None or text is None:
            outcomes.append(Outcome(spec, None, INVALID, problems=warnings))
            continue
        target = dest or rendered_path(root, name)
        if dest is None:
            _inside(target, root)
        if target in owners:
            raise AxowrapError(
                f"{spec} and {owners[target]} both render to {target} (same spec name {target.name.removesuffix(RENDERED_SUFFIX)!r})",
                hint="give one of them its own `name:`",
            )
        owners[target] = spec
        old = target.read_text(encoding="utf-8") if target.is_file() else None
        if not check:
            if old != text:
                atomic_write(target, text)
            outcomes.append(Outcome(spec, target, WRITTEN, problems=warnings))
        elif old is None:
            outcomes.append(Outcome(spec, target, MISSING, problems=warnings))
        elif old != text:
            outcomes.append(Outcome(spec, target, STALE, unified(old, text, target, spec), warnings))
        else:
            outcomes.append(Outcome(spec, target, OK, problems=warnings))
    if prune:
        outcomes += _orphans(root, set(owners), check=check or any(o.status == INVALID for o in outcomes))
    return outcomes


def _inside(path: Path, root: Path) -> None:
    """`render --all` writes and removes files in rendered/ only: a symlink (rendered/ itself,
    or one config) that leads out of the repo is refused, never followed."""
    real, top = path.resolve(), root.resolve()
    if real != top and top not in real.parents:
        raise AxowrapError(
            f"{path} leads outside the repo (to {real}): not writing or removing anything there",
            hint=f"make {RENDERED_DIR}/ a plain folder in the repo",
        )


def _orphans(root: Path, owned: set[Path], *, check: bool) -> list[Outcome]:
    out = []
    for path in sorted((root / RENDERED_DIR).glob(f"*{RENDERED_SUFFIX}")):
        _inside(path, root)
        if path not in owned:
            if not check:
                path.unlink()
            out.append(Outcome(path, None, ORPHAN if check else REMOVED))
    return out


def failure(outcomes: list[Outcome], check: bool) -> AxowrapError | None:
    """The one error to raise for `outcomes`, or None when every spec is fine."""
    bad = [o for o in outcomes if not o.ok]
    if not bad:
        return None
    invalid = sum(1 for o in bad if o.status == INVALID)
    stale = len(bad) - invalid
    parts = [f"{invalid} spec(s) invalid"] if invalid else []
    if stale:
        parts.append(f"{stale} rendered config(s) missing, out of date or without a spec")
    specs = sum(1 for o in outcomes if o.status not in (ORPHAN, REMOVED))
    hint = "run `axowrap render --all` from the repo root and commit rendered/" if stale and check else None
    return AxowrapError(f"{', '.join(parts)} (of {specs} spec(s))", hint=hint)
