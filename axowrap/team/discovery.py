"""Find every spec in a team repo (`--all`), and where its committed rendered config lives.

A YAML file under the root is a *spec* when it is a mapping with `task:` or `extends:` (Axolotl
has neither key), when it sits in a folder named `specs/` (whatever it holds), or when it cannot
be parsed at all: so a spec that lost its `task:` or its syntax is reported, never skipped. A
file that another spec `extends` is a *base*: it is checked through the specs that extend it,
never on its own (a team base has no `task:`). Hidden folders and the folders of generated
output (rendered/, runs/, outputs/, node_modules/) are not searched.

Rendered configs: the spec named N (its `name:`, else its file stem) is committed as
`rendered/N.axolotl.yaml` at the repo root, rendered with paths relative to the repo root
(where Axolotl is started from). `rendered_path` is that mapping, and the only place it lives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.repo import RENDERED_DIR, in_specs_dir
from axowrap.yamlio import safe_load

SKIP_DIRS = frozenset({RENDERED_DIR, "runs", "outputs", "node_modules", "__pycache__", "venv"})


@dataclass
class Discovery:
    root: Path
    specs: list[Path] = field(default_factory=list)
    bases: list[Path] = field(default_factory=list)


def _yaml_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        found.extend(Path(folder, f) for f in sorted(files) if f.endswith((".yaml", ".yml")))
    return found


def _peek(path: Path) -> tuple[bool, dict]:
    """(parsed?, top-level mapping of the file: {} when it is not a mapping)."""
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False, {}
    return True, data if isinstance(data, dict) else {}


class _Real:
    """Path.resolve() with each folder resolved once (a repo of 500 specs has a few folders):
    a file that is not itself a symlink resolves to its resolved folder plus its name."""

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}

    def __call__(self, path: Path) -> Path:
        folder, name = os.path.split(os.fspath(path))
        if name in ("", ".", "..") or os.path.islink(path):
            return path.resolve()
        real = self.folders.get(folder)
        if real is None:  # realpath, like resolve: symlinks first, then `..`
            real = self.folders[folder] = os.path.realpath(folder or ".")
        return Path(real, name)


def _extends(path: Path, data: dict, real: _Real) -> list[Path]:
    ext = data.get("extends")
    names = [ext] if isinstance(ext, str) else [e for e in ext if isinstance(e, str)] if isinstance(ext, list) else []
    return [real(path.parent / n) for n in names]


def _in_cycle(start: Path, links: dict[Path, list[Path]]) -> bool:
    """Whether `start` extends itself through some chain (then it is checked, to report the cycle)."""
    seen: set[Path] = set()
    todo = list(links.get(start, []))
    while todo:
        node = todo.pop()
        if node == start:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(links.get(node, []))
    return False


def discover(root: Path) -> Discovery:
    """Every spec and base spec under `root`, sorted by path (paths as found under `root`)."""
    real = _Real()
    peeked = {path: _peek(path) for path in _yaml_files(root)}
    resolved = {path: real(path) for path in peeked}
    links = {resolved[path]: _extends(path, data, real) for path, (_, data) in peeked.items()}
    extended = {base for bases in links.values() for base in bases}
    out = Discovery(root=root)
    for path, (parsed, data) in peeked.items():
        if resolved[path] in extended and not _in_cycle(resolved[path], links):
            out.bases.append(path)
        elif not parsed or "task" in data or "extends" in data or in_specs_dir(path):
            out.specs.append(path)
    return out


def find_specs(root: Path) -> list[Path]:
    """The specs under `root`, or an error saying none were found."""
    specs = discover(root).specs
    if not specs:
        raise AxowrapError(
            f"no specs found under {root.resolve()}",
            hint="a spec is a YAML file with `task:` or `extends:`, or any YAML file in specs/; "
            "create one with `axowrap new --task TASK -o specs/NAME.yaml`",
        )
    return specs


def name_clashes(specs: list[Path]) -> list[Problem]:
    """An error for each spec whose name (`name:`, else the file stem) an earlier one has: their
    run directories, rendered configs and Hub repos would collide. Unreadable specs are skipped
    (validation reports them)."""
    from axowrap.errors import ValidationFailed
    from axowrap.spec.read import read_spec

    first: dict[str, Path] = {}
    out: list[Problem] = []
    for path in specs:
        try:
            spec = read_spec(path)
        except (ValidationFailed, AxowrapError):
            continue
        if spec.name not in first:
            first[spec.name] = path
            continue
        where = ("name",) if isinstance(spec.doc.data, dict) and "name" in spec.doc.data else ()
        out.append(
            spec.doc.problem(
                where,
                f"spec name {spec.name!r} is also the name of {first[spec.name]}: their run directories, "
                "rendered configs and Hub repos would collide",
                hint="give one of them its own `name:`",
            )
        )
    return out
