"""Checks across rows: exact and normalized duplicates, rows shared between training and the
held-out set, very short targets, and a declared format that does not match the data.

The work is in two parts, so that the first can run in other processes (axowrap.data.scan):
`row_facts` is everything about one row alone (its structural issues, a short target, its
exact and normalized keys, held-out or not), pure and cheap to send; `ContentCheck.add` is
what needs every earlier row (the first row with each key), fed the facts in file order."""

from __future__ import annotations

import hashlib
import re
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from axowrap.data.formats import FORMATS, MISSING_KEY, Issue, Layout, check_row, detect_format
from axowrap.data.readers import the_row
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
# ASCII punctuation and white space -> space, on UTF-8 bytes (ASCII bytes never occur inside
# multi-byte characters); then runs of spaces -> one space. `bytes.split` + `join` gives the
# same (words split on ASCII white space, joined by one space), ~25% slower: it makes an object
# a word.
_SPACES = string.punctuation + "\t\n\r\x0b\x0c"
_PUNCTUATION = bytes.maketrans(_SPACES.encode(), b" " * len(_SPACES))
# ... and upper case -> lower case, for text that is all ASCII (str.lower() is then bytes.lower())
_ASCII_FOLD = bytes.maketrans(
    _SPACES.encode() + string.ascii_uppercase.encode(), b" " * len(_SPACES) + string.ascii_lowercase.encode()
)
_RUN = re.compile(b"  +")

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


# Row keys are 128-bit digests, compared only within one run (never stored): xxh3_128 (xxhash)
# is one C call and ~4x faster than blake2b on ~1 KB rows; blake2b (the standard library) when
# xxhash is not installed. Not a cryptographic hash: a crafted pair of rows could collide and
# be reported as duplicates; by chance, 10^9 rows collide with odds ~10^-21.
KEY_BYTES = 16


def _blake2b(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=KEY_BYTES).digest()


_digest: Callable[[bytes], bytes] = _blake2b
try:
    from xxhash import xxh3_128_digest as _digest
except ImportError:  # pragma: no cover - depends on the environment
    pass


Located = tuple[str, int]  # (file, line or row)
Facts = tuple[list[Issue], int, bytes, bytes]  # (issues of the row alone, flags, exact key, normalized key or b"")

# Flags of a row's facts; the format it looks like (detect_format) is in the bits from _FORMAT_SHIFT.
IS_DICT, HELD, MISSING, LABEL_TRUE, LABEL_FALSE, HAS_NORMAL = 1, 2, 4, 8, 16, 32
_FORMAT_SHIFT = 6
_FORMAT_CODE: dict[str | None, int] = {None: 0, **{f: i + 1 for i, f in enumerate(FORMATS)}}
_FORMAT_OF: tuple[str | None, ...] = (None, *FORMATS)
_FILES = 1 << 20  # where a row is, packed in one int: line * _FILES + the file's index


def normalize(text: str) -> bytes:
    """Lower case, ASCII punctuation and runs of space removed: `Hello,  World!` == `hello world`."""
    if text.isascii():
        return _RUN.sub(b" ", text.encode("ascii").translate(_ASCII_FOLD)).strip(b" ")
    return _RUN.sub(b" ", text.lower().encode("utf-8").translate(_PUNCTUATION)).strip(b" ")


def row_facts(layout: Layout, holdout: tuple[float, int] | None, row: Any) -> Facts:
    """What one parsed row says on its own: its structural issues and a very short target (in
    report order), its flags, its exact key and its normalized key (b"": nothing readable)."""
    issues = check_row(layout, row)
    flags = _FORMAT_CODE[detect_format(row)] << _FORMAT_SHIFT
    if issues and any(c == MISSING_KEY for c, _, _ in issues):
        flags |= MISSING
    if not isinstance(row, dict):
        return issues, flags, b"", b""
    flags |= IS_DICT
    if layout.format == "kto":
        label = row.get(layout.fields["label"])
        if isinstance(label, bool):
            flags |= LABEL_TRUE if label else LABEL_FALSE
    prompt, target = prompt_and_target(layout, row)
    stripped = target.strip()
    if 0 < len(stripped) < SHORT_TARGET_CHARS:
        issues.append((SHORT, f"the target is only {stripped!r}", "warning"))
    if holdout and in_holdout(row, *holdout):
        flags |= HELD
    normal = normalize(prompt + " " + target)
    if normal:
        flags |= HAS_NORMAL
        return issues, flags, _digest(_exact(row)), _digest(normal)
    return issues, flags, _digest(_exact(row)), b""


@dataclass
class ContentCheck:
    """Feed every row's `row_facts` to `add`, in file order; `add` returns the row's findings
    against the earlier rows, `finish` the whole-file ones."""

    layout: Layout
    holdout: tuple[float, int] | None = None  # (fraction, seed) of the spec's split
    held_keys: dict[bytes, Located] = field(default_factory=dict)  # rows of a holdout_file
    # key -> the first row with it, packed (see _pack); normal: packed * 2 + held? (ints, not
    # tuples: ~100 bytes a row less, and nothing for the cyclic garbage collector to walk)
    exact: dict[bytes, int] = field(default_factory=dict)
    normal: dict[bytes, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
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

    def file_index(self, name: str) -> int:
        """The index of a file's name in the packed locations (add it when new)."""
        if not self.files or self.files[-1] != name:
            if name in self.files:
                return self.files.index(name)
            if len(self.files) >= _FILES:
                raise ValueError(f"more than {_FILES} data files in one dataset")
            self.files.append(name)
        return len(self.files) - 1

    def _at(self, packed: int) -> str:
        return f"{self.files[packed % _FILES]}:{packed // _FILES}"

    def add(self, facts: Facts, file: int, where: int, row: Any) -> list[Issue]:
        """The findings of a row (its facts; `file`: its file_index) against the rows before it;
        `row`: the row itself or a readers.Later, read only for the first row of each format."""
        _, flags, exact, normal = facts
        self.rows += 1
        if flags & MISSING:
            self.missing_key_rows += 1
        if self.rows <= 1000 or self.missing_key_rows:
            found = _FORMAT_OF[flags >> _FORMAT_SHIFT]
            self.detected[found] += 1
            if found and found not in self.example_keys and flags & IS_DICT:
                self.example_keys[found] = sorted(the_row(row))[:6]
        if not flags & IS_DICT:
            return []
        if flags & (LABEL_TRUE | LABEL_FALSE):
            self.labels[bool(flags & LABEL_TRUE)] += 1
        held = bool(flags & HELD)
        self.held_rows += held
        packed = where * _FILES + file
        first = self.exact.setdefault(exact, packed)
        if first != packed:
            return [(DUPLICATE, f"the same row as {self._at(first)}", "warning")]
        if not flags & HAS_NORMAL:  # nothing readable in the declared fields: the structural check says why
            return []
        seen = self.normal.setdefault(normal, packed * 2 + held)
        if normal in self.held_keys:
            self.leaks += 1
            return [
                (
                    LEAK,
                    f"a training row equal to held-out row {_at(self.held_keys[normal])} (after normalizing)",
                    "error",
                )
            ]
        if seen >> 1 == packed:
            return []
        if seen & 1 != held:
            self.leaks += 1
            side = "held-out" if seen & 1 else "training"
            return [
                (
                    LEAK,
                    f"equal (after normalizing) to {self._at(seen >> 1)}, which goes to the {side} set: the eval would test a trained row",
                    "error",
                )
            ]
        return [
            (
                NEAR_DUPLICATE,
                f"equal to {self._at(seen >> 1)} after normalizing case, spaces and punctuation",
                "warning",
            )
        ]

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
