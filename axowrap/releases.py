"""Which Axolotl release a config is checked against, and that release's generated files.

axowrap ships one schema and one table file per supported release
(schemas/axolotl-<version>.schema.json and .tables.json, both written by
`python -m axowrap.config.schemagen` in an environment holding that release). The Axolotl
installed beside axowrap chooses; without one (the light install) an explicit `--axolotl`
or the spec's `compute.axolotl` does, and otherwise the newest shipped release. Reading the
installed version is a metadata lookup: nothing here imports Axolotl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from axowrap.errors import UsageError
from axowrap.resources import schema_file, schemas_dir

_NAME = re.compile(r"axolotl-(\d+\.\d+\.\d+)\.schema\.json")
GENERATE = "pip install axolotl==VERSION beside axowrap, then `python -m axowrap.config.schemagen`"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@cache
def shipped() -> tuple[str, ...]:
    """Every release with both files, oldest first."""
    found = []
    for path in schemas_dir().glob("axolotl-*.schema.json"):
        m = _NAME.fullmatch(path.name)
        if m and (path.parent / f"axolotl-{m[1]}.tables.json").is_file():
            found.append(m[1])
    return tuple(sorted(found, key=_key))


def newest() -> str:
    return shipped()[-1]


@cache
def installed() -> str | None:
    """The Axolotl version installed beside axowrap (package metadata), or None."""
    try:
        return metadata.version("axolotl")
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Release:
    version: str
    chosen_by: str  # "installed", "--axolotl", "compute.axolotl" or "newest"

    def describe(self) -> str:
        return f"Axolotl {self.version} ({self.chosen_by})"


def unsupported(version: str, where: str) -> UsageError:
    return UsageError(
        f"no tables for Axolotl {version} ({where}); this axowrap supports {', '.join(shipped())}",
        hint=f"use a supported release, or generate the files for {version}: " + GENERATE.replace("VERSION", version),
    )


def choose(flag: str | None = None, pin: str | None = None) -> Release:
    """The release to check against: `--axolotl`, else the installed one, else the spec's
    `compute.axolotl`, else the newest shipped. A version without files is refused."""
    for version, by in ((flag, "--axolotl"), (installed(), "installed"), (pin, "compute.axolotl")):
        if version:
            if version not in shipped():
                raise unsupported(version, by)
            return Release(version, by)
    return Release(newest(), "newest")


@cache
def _load(name: str) -> dict[str, Any]:
    from axowrap.schema_check import load_schema

    return load_schema(schema_file(name))


def schema(version: str) -> dict[str, Any]:
    if version not in shipped():
        raise unsupported(version, "requested")
    return _load(f"axolotl-{version}.schema.json")


def tables(version: str) -> dict[str, Any]:
    if version not in shipped():
        raise unsupported(version, "requested")
    return _load(f"axolotl-{version}.tables.json")


@cache
def top_level_keys(version: str) -> frozenset[str]:
    """The keys a config of `version` may have at its top level without listing a plugin (its
    schema's and those of its built-in plugins: 0.21 always loads context and expert parallel)."""
    builtin = {name.rsplit(".", 1)[-1] for name in tables(version)["builtin_plugins"]}
    keys = set(schema(version)["properties"])
    for name, extra in schema(version).get("x-axolotl-plugins", {}).items():
        if name.rsplit(".", 1)[-1] in builtin:
            keys |= set(extra["properties"])
    return frozenset(keys)


def where_known(key: str, version: str) -> list[str]:
    """The other shipped releases that have the top-level `key` (for "added in"/"removed in")."""
    return [v for v in shipped() if v != version and key in top_level_keys(v)]
