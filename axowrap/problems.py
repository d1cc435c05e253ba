"""Validation problems: where (file, key path, line), what was wrong, what would fix it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[str | int, ...]


# Characters that must not reach a terminal or a CI log as they are: C0/C1 controls (ESC
# sequences, carriage returns, newlines that start a `::error::` line), line and paragraph
# separators, bidirectional overrides, and lone surrogates (no UTF-8 terminal can print them).
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNPRINTABLE_KEEP_NL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def printable(text: str, *, newlines: bool = False) -> str:
    """`text` with every control character escaped (`\\x1b`, `\\n`, `\\ud800`); with
    `newlines`, line breaks are kept (messages of several lines)."""
    return (_UNPRINTABLE_KEEP_NL if newlines else _UNPRINTABLE).sub(_escape, text)


def format_path(path: Path_) -> str:
    """`('datasets', 0, 'type')` -> `datasets[0].type` (control characters in keys escaped)."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            name = printable(part if isinstance(part, str) else repr(part))
            out += f".{name}" if out else name
    return out or "(top level)"


def _edits(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) between `a` and `b`."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The known name a misspelt one most likely meant, or None: a wrong suggestion is worse
    than none. A suggestion must be similar (difflib ratio >= 0.75) and either a typo away
    (a few edits: max(2, a quarter of the word)) or one of the two a prefix of the other
    (`lora_rr` -> `lora_r`, `adam_eps` -> `adam_epsilon`). tests/test_did_you_mean.py holds the
    typos that must get a suggestion and the removed keys that must not. A word that begins
    exactly one name gets that name (`h100` -> `h100-80gb`); one that begins several gets one
    of those or nothing (`adamw` begins adamw_torch, adamw_8bit...: not `adamc`)."""
    import difflib

    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    starting = [c for c in choices if c.startswith(word)] if len(word) >= 3 else []
    if len(starting) == 1:
        return starting[0]
    for guess in difflib.get_close_matches(word, choices, n=3, cutoff=0.75):
        if starting and not guess.startswith(word):
            continue
        if guess.startswith(word) or word.startswith(guess) or _edits(word, guess) <= max(2, len(word) // 4):
            return guess
    return None


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
        loc = printable(self.file) if self.file else "<input>"
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        text = f"{self.where}: {self.severity}: {format_path(self.path)}: {printable(self.message)}"
        if self.hint:
            text += f"\n    hint: {printable(self.hint, newlines=True)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "file": printable(self.file),
            "line": self.line,
            "column": self.column,
            "path": format_path(self.path),
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


def _path_key(path: Sequence[str | int]) -> tuple[tuple[int, str | int], ...]:
    # ints and strs cannot be compared directly; rank them so lists sort numerically (a YAML
    # key may also be null, a bool or a float: those sort by their repr).
    return tuple(
        (0, p) if isinstance(p, int) and not isinstance(p, bool) else (1, p) if isinstance(p, str) else (2, repr(p))
        for p in path
    )


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Sorted by file, then key path, then message; duplicates removed."""
    unique = {(p.file, p.path, p.message, p.severity): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.file, _path_key(p.path), p.message))


def value_at(data: Any, path: Path_) -> tuple[bool, Any]:
    """(True, the value at `path` in nested mappings and lists), or (False, None) when it is not there."""
    for part in path:
        if isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return False, None
    return True, data
