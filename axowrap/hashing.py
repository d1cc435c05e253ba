"""The hashes axowrap records and compares: files, folders, text and canonical JSON values."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError

MAX_FILES = 100_000  # files hashed under one folder (a model or data folder has far fewer)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_sha256(value: Any) -> str:
    """sha256 of `value` as canonical JSON (sorted keys, no spaces): the step fingerprints."""
    return text_sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))


def file_sha256(path: Path) -> str:
    """sha256 of a regular file's bytes (a FIFO or a device is refused, never read forever)."""
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise AxowrapError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AxowrapError(f"{path}: not a regular file; refusing to hash it", hint="name a file or a folder")
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dir_sha256(folder: Path) -> str:
    """One hash over every regular file (relative name + content) under `folder`; symlinked
    folders are not followed, and more than MAX_FILES files is an error."""
    h = hashlib.sha256()
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            found.append(path)
            if len(found) > MAX_FILES:
                raise AxowrapError(
                    f"{folder}: more than {MAX_FILES:,} files; refusing to hash them all",
                    hint="is this the right folder? (a model or data folder holds far fewer)",
                )
    for path in sorted(found):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return h.hexdigest()
