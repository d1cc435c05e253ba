"""The layout of a team config repo, in one place: the names `axowrap init` writes and that
`--all`, `render --check`, `new` and the schema modelines look for.

    team.yaml       the team base every spec extends        specs/      the specs
    rendered/       committed rendered configs              schemas/    JSON Schemas for editors

The repo root is the nearest folder, from a path upwards, that holds team.yaml.
"""

from __future__ import annotations

from pathlib import Path

TEAM_BASE = "team.yaml"
SPECS_DIR = "specs"
RENDERED_DIR = "rendered"
SCHEMAS_DIR = "schemas"
RENDERED_SUFFIX = ".axolotl.yaml"


def rendered_path(root: Path, name: str) -> Path:
    """Where the rendered config of the spec named `name` is committed."""
    return root / RENDERED_DIR / f"{name}{RENDERED_SUFFIX}"


def schema_name(kind: str) -> str:
    """The file name under schemas/ of a schema kind (spec | axolotl)."""
    return f"{kind}.schema.json"


def find_root(start: Path) -> Path | None:
    """The team repo holding `start` (a file or folder): the nearest folder with team.yaml."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        if (candidate / TEAM_BASE).is_file():
            return candidate
    return None


def in_specs_dir(path: Path) -> bool:
    """Whether a file sits in a specs/ folder (then it is a spec, whatever it holds)."""
    return SPECS_DIR in path.parent.parts
