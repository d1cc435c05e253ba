"""The hashes axowrap records and compares: files, folders, text and canonical JSON values."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_sha256(value: Any) -> str:
    """sha256 of `value` as canonical JSON (sorted keys, no spaces): the step fingerprints."""
    return text_sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dir_sha256(folder: Path) -> str:
    """One hash over every file (relative name + content) under `folder`."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return h.hexdigest()
