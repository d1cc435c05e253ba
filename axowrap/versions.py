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
