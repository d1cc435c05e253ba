"""The JSON Schemas axowrap ships: specs, and the Axolotl config of the supported version."""

from __future__ import annotations

from pathlib import Path

from axowrap.errors import UsageError

KINDS = ("spec", "axolotl")


def schema_path(kind: str) -> Path:
    """The schema file for `kind` (spec | axolotl)."""
    from axowrap import AXOLOTL_VERSION
    from axowrap.resources import schema_file

    if kind == "spec":
        return schema_file("spec.schema.json")
    if kind == "axolotl":
        return schema_file(f"axolotl-{AXOLOTL_VERSION}.schema.json")
    raise UsageError(f"unknown schema {kind!r}", hint=f"one of: {', '.join(KINDS)}")


def schema_text(kind: str) -> str:
    return schema_path(kind).read_text(encoding="utf-8")
