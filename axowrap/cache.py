"""axowrap's cache folder, and results kept there by content hash (ccache's "manifest" scheme).

An entry is found by a *head key* (what was asked, the code that answers it, and the sha256 of
the file asked about) and holds the result plus every other input the answer read, each with
its fingerprint: a hit needs every input unchanged. So a spec whose base (`extends`), data file
or model folder changed is checked again, without the cache knowing what `extends` means.

Fingerprints: a file is its sha256 (files over 32 MiB: size, mtime, ctime and inode, like git's
index), a folder is its listing (names, kinds, symlink targets; small files by content, larger
ones by stat), a missing path is `missing`. The code fingerprint covers axowrap's version and
every file of the package, templates and schemas (an edited checkout is a new version), Python,
the packages whose behaviour reaches a result, and what is installed (the names in each
sys.path folder: the rules ask whether mlflow, wandb, SQLAlchemy, Axolotl are there). `AXOWRAP_NO_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_module
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from axowrap import __version__

BIG_FILE = 32 << 20
MAX_ENTRIES = 20_000  # per kind; the oldest go first beyond it
# Environment that changes where a check looks (the Hugging Face cache, the calibration file).
ENV = (
    "HOME",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "AXOWRAP_CALIBRATION",
    "WANDB_MODE",  # the tracking rules: W&B online needs a login
    "NETRC",
)
# Environment whose presence (never its value: a secret) changes an answer.
PRESENT = ("WANDB_API_KEY",)
# Packages whose installed files reach a check's result (parsing, messages, rendering).
PACKAGES = ("yaml", "jsonschema", "jinja2")


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/axowrap, else ~/.cache/axowrap: the log, imported models, check results."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "axowrap"


def enabled() -> bool:
    return os.environ.get("AXOWRAP_NO_CACHE", "").strip().lower() not in ("1", "true", "yes", "on")


def _stat_print(st: os.stat_result) -> str:
    return f"stat:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_MEMO: dict[tuple[str, str], str] = {}  # (file, its stat) -> its sha256, for this process


def fingerprint(path: str | Path) -> str:
    """What `path` holds now, in one string (see the module doc)."""
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    if os.path.isdir(name):
        return "dir:" + _tree(name)  # a folder's own stat does not change with its files' contents
    if not stat_module.S_ISREG(st.st_mode):  # a device, FIFO or socket: never read (/dev/zero has no end)
        return f"special:{stat_module.S_IFMT(st.st_mode)}:{st.st_rdev}"
    stat = _stat_print(st)
    if st.st_size > BIG_FILE:
        return stat
    memo = _MEMO.get((name, stat))
    if memo is None:
        try:
            memo = "sha256:" + file_sha256(name)
        except OSError as exc:
            return f"unreadable:{exc.errno}"
        _MEMO[(name, stat)] = memo
    return memo


def _tree(folder: str, depth: int = 0) -> str:
    h = hashlib.sha256()
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    for entry in entries:
        if entry.is_symlink():
            h.update(f"{entry.name}\0link\0{os.readlink(entry.path)}\n".encode())
        elif entry.is_dir():
            inner = _tree(entry.path, depth + 1) if depth < 4 else _stat_print(entry.stat())
            h.update(f"{entry.name}\0dir\0{inner}\n".encode())
        else:
            h.update(f"{entry.name}\0file\0{fingerprint(entry.path)}\n".encode())
    return h.hexdigest()


@cache
def code_fingerprint() -> str:
    """axowrap's version and files, Python's version and the packages in PACKAGES."""
    from axowrap.resources import PACKAGE_DIR, schemas_dir, templates_dir

    return files_fingerprint((PACKAGE_DIR, templates_dir(), schemas_dir()))


def files_fingerprint(roots: Iterable[Path]) -> str:
    """One hash over axowrap's version, Python's, the packages in PACKAGES and the name, size and
    mtime of every file under `roots` (stat only: ~150 files cost ~2 ms)."""
    from importlib.util import find_spec

    h = hashlib.sha256(f"{__version__}\0{sys.version}\0{sys.executable}\n".encode())
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                st = os.stat(os.path.join(folder, name))
                h.update(f"{folder}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for package in PACKAGES:
        found = find_spec(package)
        origin = found.origin if found is not None else None
        if origin and os.path.exists(origin):
            st = os.stat(origin)
            h.update(f"{package}\0{origin}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    h.update(installed_names().encode())
    return h.hexdigest()


def installed_names() -> str:
    """The names in every sys.path folder (not the current one, whose files come and go): a
    package installed or removed, or another version (its dist-info name), changes it."""
    here = os.path.abspath(os.getcwd())
    out = []
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        if folder == here:
            continue
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        out.append(folder + "\0" + "\0".join(names))
    return "\n".join(out)


def head_key(kind: str, question: dict[str, Any], content: bytes) -> str:
    """The key of the entry answering `question` about a file with `content`."""
    context = {
        "kind": kind,
        "code": code_fingerprint(),
        "cwd": os.getcwd(),
        "env": {name: os.environ.get(name) for name in ENV},
        "present": [name for name in PRESENT if os.environ.get(name)],
        "question": question,
    }
    h = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    h.update(b"\0" + hashlib.sha256(content).digest())
    return h.hexdigest()


def _entry_path(kind: str, key: str) -> Path:
    return cache_dir() / "checks" / kind / f"{key}.json"


def lookup(kind: str, key: str) -> Any | None:
    """The result stored under `key`, when every input it read is unchanged; else None."""
    try:
        with open(_entry_path(kind, key), encoding="utf-8") as fh:
            entry = json.load(fh)
        inputs, result = entry["inputs"], entry["result"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, or a half-written entry from a crash: a miss
    if all(fingerprint(path) == print_ for path, print_ in inputs):
        return result
    return None


def store(kind: str, key: str, result: Any, inputs: Iterable[str | Path]) -> bool:
    """Keep `result` under `key` with the fingerprints of `inputs` (taken now); False when the
    result is not plain JSON (then nothing is kept) or the cache folder cannot be written."""
    paths = sorted({os.path.abspath(p) for p in inputs})
    try:
        text = json.dumps({"inputs": [[p, fingerprint(p)] for p in paths], "result": result}, allow_nan=False)
    except (TypeError, ValueError):
        return False
    import tempfile

    path = _entry_path(kind, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # readers see the old entry or the new one, never half of one
    except OSError:
        return False
    return True


def prune(kind: str, limit: int = MAX_ENTRIES) -> int:
    """Remove the oldest entries of `kind` beyond `limit` (down to 80% of it); how many went."""
    folder = cache_dir() / "checks" / kind
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(".json")]
    except OSError:
        return 0
    if len(entries) <= limit:
        return 0
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    gone = 0
    for entry in entries[: len(entries) - int(limit * 0.8)]:
        try:
            os.unlink(entry.path)
            gone += 1
        except OSError:
            pass
    return gone
