"""The versions of the stack a run depends on, read from package metadata (no imports): the
one list the manifest, the lock file and the multi-node environment check record."""

from __future__ import annotations

import platform
from importlib import metadata

from axowrap import __version__

PACKAGES = ("axolotl", "torch", "transformers", "peft", "trl", "accelerate", "datasets")


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """axowrap, Python and every package of PACKAGES (None when not installed)."""
    out: dict[str, str | None] = {"axowrap": __version__, "python": platform.python_version()}
    out.update((name, package_version(name)) for name in PACKAGES)
    return out


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return "-".join(name.lower().replace("_", "-").replace(".", "-").split("-"))


def install_closure(root: str = "axowrap", extras: tuple[str, ...] = ("train",)) -> set[str]:
    """The distributions `pip install root[extras]` brings, read from the installed packages'
    metadata (requirements whose markers hold on this platform); what a target's install has."""
    from packaging.requirements import InvalidRequirement, Requirement

    seen: set[str] = set()
    done: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        if (normalize(name), wanted) in done:
            continue
        done.add((normalize(name), wanted))
        seen.add(normalize(name))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in (*wanted, "")):
                continue
            todo.append((req.name, tuple(sorted(req.extras))))
    return seen
