"""Where axowrap's data lives: templates/, schemas/ and presets/, installed or not.

In a wheel, templates/ and schemas/ are installed inside the package (see pyproject's
force-include); in a source checkout they sit beside the package at the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def _data_dir(name: str) -> Path:
    inside = PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    beside = PACKAGE_DIR.parent / name
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"axowrap is installed without its {name}/ folder ({inside})")


def templates_dir() -> Path:
    return _data_dir("templates")


def schemas_dir() -> Path:
    return _data_dir("schemas")


def schema_file(name: str) -> Path:
    return schemas_dir() / name


def presets_dir() -> Path:
    return PACKAGE_DIR / "presets"


def example_data_dir() -> Path:
    """The presets' example rows (examples/data/ in a checkout, axowrap/example_data in a wheel)."""
    inside = PACKAGE_DIR / "example_data"
    return inside if inside.is_dir() else PACKAGE_DIR.parent / "examples" / "data"
