"""Validation problems: where (file, key path, line), what was wrong, what would fix it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[str | int, ...]


def format_path(path: Path_) -> str:
    """`('datasets', 0, 'type')` -> `datasets[0].type`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest known name to a misspelt one, if any is close enough."""
    import difflib

    choices = list(choices)
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        matches = [lowered[word.lower()]] if word.lower() in lowered else []
    return matches[0] if matches else None


def short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One finding. `path` is the key path inside `file`; `line` is 1-based when known."""

    path: Path_
    message: str
    file: str = ""
    line: int | None = None
    column: int | None = None
    hint: str | None = None
    severity: str = "error"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def where(self) -> str:
        loc = self.file or "<input>"
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        text = f"{self.where}: {self.severity}: {format_path(self.path)}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": format_path(self.path),
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


def _path_key(path: Sequence[str | int]) -> tuple[tuple[int, str | int], ...]:
    # ints and strs cannot be compared directly; rank them so lists sort numerically.
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Sorted by file, then key path, then message; duplicates removed."""
    unique = {(p.file, p.path, p.message, p.severity): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.file, _path_key(p.path), p.message))
