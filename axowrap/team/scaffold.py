"""`axowrap init DIR`: scaffold a team config repo (see templates/team/)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from axowrap.errors import UsageError

ORG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
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
    from axowrap.files import umask
    from axowrap.targets import get_target
    from axowrap.team.render_check import sync_rendered
    from axowrap.team.schemas import KINDS, schema_text
    from axowrap.templating import render_template
    from axowrap.yamlio import atomic_write

    get_target(target)  # an unknown target is a usage error with the known names
    if not ORG.fullmatch(org):
        raise UsageError(f"--org {org!r}: a Hub organisation name is letters, digits, '-', '_' and '.'")
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
    # Built in a sibling folder, then moved into place: an interrupted init leaves no partial
    # scaffold behind (it used to, and a rerun then refused the folder as not empty).
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.init-", dir=folder.parent))
    try:
        for dest, template in FILES.items():
            atomic_write(staging / dest, render_template(f"team/{template}", **context))
        for kind in KINDS:
            atomic_write(staging / "schemas" / f"{kind}.schema.json", schema_text(kind))
        if rendered:
            sync_rendered([staging / "specs/example.yaml"], check=False, root=staging)
        made = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # an empty folder is replaced by the finished scaffold
        if not folder.exists():
            staging.chmod(0o777 & ~umask())  # mkdtemp made it private
            os.replace(staging, folder)
        else:  # --force into a folder with files: file by file, each atomically
            for rel in made:
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, folder / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [folder / rel for rel in made]
