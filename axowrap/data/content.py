"""Checks across rows: exact and normalized duplicates, rows shared between training and the
held-out set, very short targets, and a declared format that does not match the data."""

from __future__ import annotations

import hashlib
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from axowrap.data.formats import MISSING_KEY, Issue, Layout, detect_format
from axowrap.data.split import canonical, in_holdout
from axowrap.data.texts import prompt_and_target

DUPLICATE = "duplicate (exact)"
NEAR_DUPLICATE = "duplicate (normalized)"
LEAK = "train/held-out overlap"
SHORT = "very short target"
MISMATCH = "format mismatch"
ONE_LABEL = "one label only"
CONTENT_CATEGORIES = (MISMATCH, ONE_LABEL, LEAK, DUPLICATE, NEAR_DUPLICATE, SHORT)
SHORT_TARGET_CHARS = 3
# ASCII punctuation -> space, on UTF-8 bytes (ASCII bytes never occur inside multi-byte characters)
_PUNCTUATION = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))

try:  # a canonical form of the row for exact duplicates (sorted keys); orjson is ~10x faster
    from orjson import OPT_SORT_KEYS
    from orjson import dumps as _dumps

    def _exact(row: Any) -> bytes:
        try:
            return _dumps(row, option=OPT_SORT_KEYS)
        except TypeError:  # what orjson cannot write (an integer over 64 bits): the slower canonical form
            return canonical(row).encode("utf-8")
except ImportError:  # pragma: no cover - depends on the environment

    def _exact(row: Any) -> bytes:
        return canonical(row).encode("utf-8")


Located = tuple[str, int]  # (file, line or row)


def normalize(text: str) -> bytes:
    """Lower case, ASCII punctuation and runs of space removed: `Hello,  World!` == `hello world`."""
    return b" ".join(text.lower().encode("utf-8").translate(_PUNCTUATION).split())


def _digest(data: str | bytes) -> bytes:
    return hashlib.blake2b(data.encode("utf-8") if isinstance(data, str) else data, digest_size=12).digest()


@dataclass
class ContentCheck:
    """Feed every parsed row with `add`; `add` returns per-row findings, `finish` the rest."""

    layout: Layout
    holdout: tuple[float, int] | None = None  # (fraction, seed) of the spec's split
    held_keys: dict[bytes, Located] = field(default_factory=dict)  # rows of a holdout_file
    exact: dict[bytes, Located] = field(default_factory=dict)
    normal: dict[bytes, tuple[Located, bool]] = field(default_factory=dict)  # key -> (first, held?)
    detected: Counter[str | None] = field(default_factory=Counter)
    example_keys: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0
    missing_key_rows: int = 0
    leaks: int = 0
    held_rows: int = 0
    labels: Counter[bool] = field(default_factory=Counter)  # KTO: rows per label

    def add_held(self, row: Any, where: Located) -> None:
        """A row of a separate held-out file (`eval.holdout_file`)."""
        if isinstance(row, dict):
            self.held_keys.setdefault(_digest(normalize(" ".join(prompt_and_target(self.layout, row)))), where)

    def add(self, row: Any, where: Located, issues: list[Issue]) -> list[Issue]:
        self.rows += 1
        if any(c == MISSING_KEY for c, _, _ in issues):
            self.missing_key_rows += 1
        if self.rows <= 1000 or self.missing_key_rows:
            found = detect_format(row)
            self.detected[found] += 1
            if found and found not in self.example_keys and isinstance(row, dict):
                self.example_keys[found] = sorted(row)[:6]
        if not isinstance(row, dict):
            return []
        if self.layout.format == "kto" and isinstance(row.get(self.layout.fields["label"]), bool):
            self.labels[row[self.layout.fields["label"]]] += 1
        out: list[Issue] = []
        prompt, target = prompt_and_target(self.layout, row)
        stripped = target.strip()
        if 0 < len(stripped) < SHORT_TARGET_CHARS:
            out.append((SHORT, f"the target is only {stripped!r}", "warning"))
        held = bool(self.holdout) and in_holdout(row, *self.holdout)  # type: ignore[misc]
        self.held_rows += held
        key = _digest(_exact(row))
        first = self.exact.setdefault(key, where)
        if first != where:
            out.append((DUPLICATE, f"the same row as {_at(first)}", "warning"))
            return out
        normal = normalize(prompt + " " + target)
        if not normal:  # nothing readable in the declared fields: the structural check says why
            return out
        nkey = _digest(normal)
        seen = self.normal.setdefault(nkey, (where, held))
        if self.held_keys.get(nkey):
            self.leaks += 1
            out.append(
                (LEAK, f"a training row equal to held-out row {_at(self.held_keys[nkey])} (after normalizing)", "error")
            )
        elif seen[0] != where:
            if seen[1] != held:
                self.leaks += 1
                side = "held-out" if seen[1] else "training"
                out.append(
                    (
                        LEAK,
                        f"equal (after normalizing) to {_at(seen[0])}, which goes to the {side} set: the eval would test a trained row",
                        "error",
                    )
                )
            else:
                out.append(
                    (
                        NEAR_DUPLICATE,
                        f"equal to {_at(seen[0])} after normalizing case, spaces and punctuation",
                        "warning",
                    )
                )
        return out

    def finish(self) -> list[Issue]:
        """Whole-file findings: a declared format that does not match what was found; KTO rows
        of one label only (KTO weighs desirable against undesirable answers)."""
        declared = self.layout.format
        if declared == "kto" and len(self.labels) == 1:
            only = "true (desirable)" if True in self.labels else "false (undesirable)"
            return [(ONE_LABEL, f"every label is {only}: KTO needs desirable and undesirable answers", "error")]
        if not self.rows or self.missing_key_rows * 2 <= self.rows:
            return []
        found, n = max(((f, c) for f, c in self.detected.items() if f), key=lambda x: x[1], default=(None, 0))
        if found is None or found == declared:
            return []
        keys = ", ".join(self.example_keys.get(found, []))
        total = sum(self.detected.values())
        return [
            (
                MISMATCH,
                f"declared format {declared!r}, but {n} of {total} rows look like {found!r} (keys: {keys})",
                "error",
            )
        ]


def _at(where: Located) -> str:
    return f"{where[0]}:{where[1]}"
