"""A step's outputs, checked and recorded: what makes a step "done".

    record(paths)   every file of `paths` (a folder stands for every file under it) must be
                    whole: not empty, a .safetensors file's header and data length agree, a
                    .gguf file's tensors all fit in it, a .json file parses (a sharded model's
                    index: every shard it names is beside it); each is fsynced
                    (and its folder), then recorded as {name: {bytes, sha256, mtime_ns}}
    verify(record)  what no longer matches a record (missing, other size, changed content,
                    no longer whole): the runner redoes a step whose outputs changed, so a
                    truncated output is found on the next run and never stays "done"
    digest(record)  one hash over a record: the part of a downstream step's fingerprint that
                    says which upstream outputs it was made from

Files are hashed once when recorded; verifying re-hashes only a file whose size or mtime
changed, so skipping an up-to-date step stays cheap for multi-GB models.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

from axowrap.errors import StepFailed
from axowrap.files import fsync_dir
from axowrap.hashing import canonical_sha256, file_sha256

Record = dict[str, dict[str, Any]]  # file path (relative to the run directory) -> {"bytes", "sha256", "mtime_ns"}


def _key(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def located(name: str, root: Path | None) -> Path:
    """The file a record's `name` stands for (names are relative to the run directory)."""
    path = Path(name)
    return path if path.is_absolute() or root is None else root / path


def safetensors_whole(path: Path) -> bool:
    """A .safetensors file whose header parses and whose data ends exactly at the file's end."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            return False
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8:
            return False
        try:
            header = json.loads(fh.read(n))
            ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        except (UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            return False
    return 8 + n + max(ends, default=0) == size


def gguf_whole(path: Path) -> bool:
    """A .gguf file whose header and tensor table parse (gguf's own reader) and whose every
    tensor's data lies inside the file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            return False
    try:
        from gguf import GGUFReader
    except ImportError:  # the gguf extra is not installed: the magic is all that can be checked
        return size > 24
    try:
        reader = GGUFReader(str(path))
        ends = [int(t.data_offset) + int(t.n_bytes) for t in reader.tensors]
    except Exception:  # a cut file fails anywhere in gguf's parser (struct, numpy, ValueError...)
        return False
    return bool(ends) and max(ends) <= size


def _json_whole(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def _missing_shards(index: Path) -> list[str]:
    """The weight files a sharded model's index (`weight_map`: tensor -> file) names that are not
    in its folder."""
    weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
    names = set(weight_map.values()) if isinstance(weight_map, dict) else set()
    return sorted(str(n) for n in names if not (index.parent / str(n)).is_file())


def problem(path: Path) -> str | None:
    """Why the file at `path` is not a whole output (None when it is)."""
    try:
        if not path.is_file():
            return "missing"
        if path.stat().st_size == 0:
            return "empty"
        suffix = path.suffix
        if suffix == ".safetensors" and not safetensors_whole(path):
            return "truncated or damaged safetensors file (header and data length disagree)"
        if suffix == ".gguf" and not gguf_whole(path):
            return "truncated or damaged GGUF file (its tensors do not fit in it)"
        if suffix in (".bin", ".pt") and not zipfile.is_zipfile(path):
            return "truncated torch file (no zip end record)"
        if suffix == ".json" and not _json_whole(path):
            return "not valid JSON (cut short?)"
        if path.name.endswith(".index.json") and (missing := _missing_shards(path)):
            return f"names {len(missing)} weight file(s) that are not beside it: {', '.join(missing[:3])}"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


def expand(paths: list[Path]) -> list[Path]:
    """The files `paths` stand for: a folder is every regular file under it (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        else:
            out.append(path)
    return out


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def record(step: str, paths: list[Path], root: Path | None = None) -> Record:
    """Check, fsync and hash every output file of `step` (named relative to `root`, the run
    directory, so a copied or moved run keeps its record); StepFailed naming the first that is
    not whole (the step is then not done)."""
    found = expand(paths)
    if not found:
        raise StepFailed(f"step {step} produced none of its outputs ({', '.join(map(str, paths)) or 'none'})")
    out: Record = {}
    folders: set[Path] = set()
    for path in found:
        why = problem(path)
        if why is not None:
            raise StepFailed(f"step {step}: output {path} is not whole: {why}", hint="the step is not marked done")
        _fsync(path)
        folders.add(path.parent)
        info = path.stat()
        out[_key(path, root)] = {"bytes": info.st_size, "sha256": file_sha256(path), "mtime_ns": info.st_mtime_ns}
    for folder in folders:
        fsync_dir(folder)
    return out


def verify(recorded: Record, root: Path | None = None) -> list[str]:
    """What no longer matches `recorded`: one line each, empty when every output is as recorded."""
    out: list[str] = []
    for name, want in recorded.items():
        path = located(name, root)
        try:
            info = path.stat()
        except OSError:
            out.append(f"{name}: missing")
            continue
        if info.st_size != want.get("bytes"):
            out.append(f"{name}: {info.st_size} bytes, {want.get('bytes')} recorded")
        elif info.st_mtime_ns != want.get("mtime_ns") and file_sha256(path) != want.get("sha256"):  # touched: re-hash
            out.append(f"{name}: content changed since it was recorded")
        elif (why := problem(path)) is not None:
            out.append(f"{name}: {why}")
    return out


def digest(recorded: Record | None) -> str | None:
    """One hash over the recorded outputs' contents (names relative to their run directory
    do not matter: only what each file holds)."""
    if not recorded:
        return None
    return canonical_sha256(sorted((Path(n).name, v.get("sha256")) for n, v in recorded.items()))


def supersede(root: Path, path: Path, name: str | None = None) -> Path:
    """Move `path` (a run's output file or folder) into `<root>/superseded/<time>/` instead of
    deleting it: nothing a run or its user made is removed by a later run. Returns where it went."""
    import time

    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = root / "superseded" / stamp
    n = 1
    while (folder / (name or path.name)).exists():
        n += 1
        folder = root / "superseded" / f"{stamp}-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / (name or path.name)
    os.replace(path, dest)
    fsync_dir(folder)
    fsync_dir(path.parent)
    return dest
