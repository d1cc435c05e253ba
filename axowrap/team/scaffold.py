"""`axowrap init DIR`: scaffold a team config repo (see templates/team/)."""

from __future__ import annotations

from pathlib import Path

from axowrap.errors import UsageError

# destination (relative to the new repo) -> template under templates/team/
FILES = {
    "team.yaml": "team.yaml.j2",
    "specs/example.yaml": "example.yaml.j2",
    "README.md": "README.md.j2",
    ".pre-commit-config.yaml": "pre-commit-config.yaml.j2",
    ".github/workflows/axowrap.yml": "ci.yml.j2",
    ".gitignore": "gitignore.j2",
    ".vscode/settings.json": "vscode-settings.json.j2",
}


def init_repo(
    folder: Path,
    *,
    org: str = "my-org",
    target: str = "a10g-24gb",
    optimizer: str = "adamw_torch",
    private: bool = True,
    rendered: bool = True,
    force: bool = False,
) -> list[Path]:
    """Write the scaffold into `folder` (new or empty unless `force`); returns the files written."""
    from axowrap import __version__
    from axowrap.targets import get_target
    from axowrap.team.render_check import sync_rendered
    from axowrap.team.schemas import KINDS, schema_text
    from axowrap.templating import render_template
    from axowrap.yamlio import atomic_write

    get_target(target)  # an unknown target is a usage error with the known names
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise UsageError(f"{folder} is not empty", hint="choose a new folder, or pass --force to write into it anyway")
    context = {
        "org": org,
        "target": target,
        "optimizer": optimizer,
        "private": private,
        "rendered": rendered,
        "version": __version__,
    }
    written: list[Path] = []
    for dest, template in FILES.items():
        path = folder / dest
        atomic_write(path, render_template(f"team/{template}", **context))
        written.append(path)
    for kind in KINDS:
        path = folder / "schemas" / f"{kind}.schema.json"
        atomic_write(path, schema_text(kind))
        written.append(path)
    if rendered:
        written.extend(
            o.dest for o in sync_rendered([folder / "specs/example.yaml"], check=False, root=folder) if o.dest
        )
    return written
