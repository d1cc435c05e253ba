"""The JSON Schemas axowrap ships: specs, and the Axolotl config of the chosen release."""

from __future__ import annotations

from pathlib import Path

from axowrap.errors import UsageError

KINDS = ("spec", "axolotl")


def schema_path(kind: str, axolotl: str | None = None) -> Path:
    """The schema file for `kind` (spec | axolotl: the release axowrap.releases.choose picks)."""
    from axowrap.releases import choose
    from axowrap.resources import schema_file

    if kind == "spec":
        return schema_file("spec.schema.json")
    if kind == "axolotl":
        return schema_file(f"axolotl-{choose(axolotl).version}.schema.json")
    raise UsageError(f"unknown schema {kind!r}", hint=f"one of: {', '.join(KINDS)}")


def schema_text(kind: str, axolotl: str | None = None) -> str:
    return schema_path(kind, axolotl).read_text(encoding="utf-8")
