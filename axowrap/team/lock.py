"""axowrap.lock: pin what a run depends on, and report drift from it (`run --locked`).

The lock records the versions of axowrap and the training stack (from package metadata, no
heavy imports), and per spec (keyed by its path relative to the lock's folder) the Axolotl
release it was checked against (axowrap.releases), the base model's revision, the sha256 of
every local dataset file and the commit of every Hub dataset (resolved on the Hub, or read from
the cache offline; nothing is downloaded). A Hub model's revision is the commit hash
the Hub gives for the spec's `revision:` (default main); without the Hub (HF_HUB_OFFLINE, no
network) it is read from the local Hugging Face cache refs; a local model folder gets a content
hash. When none of these works the error says how to pin it with `revision:`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from axowrap.errors import AxowrapError
from axowrap.hfcache import cached_commit, hub_cache, offline
from axowrap.versions import versions

LOCK_NAME = "axowrap.lock"
LOCK_VERSION = 1
COMMIT = re.compile(r"[0-9a-f]{40}")
HEADER = "# axowrap.lock: written by `axowrap lock`, checked by `axowrap run --locked`. Commit it.\n"


def _from_hub(repo_id: str, revision: str) -> str | None:
    if offline():
        return None
    try:
        from huggingface_hub import HfApi

        # HF_ENDPOINT read now, not at import: a mirror (or a test's local Hub) can be given per call.
        return str(
            HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None).model_info(repo_id, revision=revision, timeout=10).sha
        )
    except Exception:
        return None


def _from_cache(repo_id: str, revision: str) -> str | None:
    return cached_commit(repo_id, revision)


def _local_model(spec: Any) -> Path | None:
    base = str(spec.data["base_model"])
    candidate = (spec.base_dir / base).expanduser()
    return candidate if base.startswith((".", "/", "~")) or candidate.is_dir() else None


def model_pin(spec: Any, root: Path) -> dict[str, str]:
    """The base model of `spec`, pinned: {id, revision, source} or {path, sha256, source}."""
    from axowrap.hashing import dir_sha256

    local = _local_model(spec)
    if local is not None:
        if not local.is_dir():
            raise AxowrapError(
                f"{spec.path}: base model folder {local} not found", hint="fix `base_model:` in the spec"
            )
        return {"path": _rel(local, root), "sha256": dir_sha256(local), "source": "local folder"}
    repo_id = str(spec.data["base_model"])
    revision = str(spec.data.get("revision") or "main")
    if COMMIT.fullmatch(revision):
        return {"id": repo_id, "revision": revision, "source": "spec"}
    for source, resolve in (("hub", _from_hub), ("cache", _from_cache)):
        commit = resolve(repo_id, revision)
        if commit:
            return {"id": repo_id, "revision": commit, "source": source}
    why = "HF_HUB_OFFLINE is set" if offline() else "the Hub did not resolve it (unreachable, unknown or gated)"
    raise AxowrapError(
        f"{spec.path}: cannot pin base model {repo_id!r} at {revision!r}: {why}, and the local cache "
        f"({hub_cache()}) has no {revision!r} ref for it",
        hint=f"pin it in the spec: `revision: <40-hex commit>` (the model's commit history on the Hub), "
        f"or download it once with `hf download {repo_id}` and lock again",
    )


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def dataset_pins(spec: Any, root: Path) -> dict[str, str]:
    """sha256 of each local dataset file (or folder) of `spec`, keyed by path relative to `root`,
    and the commit of each Hub dataset, keyed `hub:ID@REVISION`."""
    from axowrap.hashing import dir_sha256, file_sha256

    out: dict[str, str] = {}
    for i, entry in enumerate(spec.data.get("datasets") or []):
        local = spec.local_path(str(entry.get("path", "")))
        if local is not None and local.exists():
            out[_rel(local, root)] = dir_sha256(local) if local.is_dir() else file_sha256(local)
        elif local is None:
            out[hub_key(entry)] = _hub_pin(spec, i, entry)
    return out


def hub_key(entry: dict[str, Any]) -> str:
    return f"hub:{entry['path']}@{entry.get('revision') or 'main'}"


def _hub_pin(spec: Any, index: int, entry: dict[str, Any]) -> str:
    from axowrap.data.hub import HubDataError, resolve_sha

    try:
        return resolve_sha(entry)[0]
    except HubDataError as exc:
        raise AxowrapError(
            f"{spec.path}: datasets[{index}].{exc.key}: cannot pin Hub dataset {entry['path']!r}: {exc.message}",
            hint=exc.hint or "pin it in the spec: `revision: <40-hex commit>`",
        ) from None


def spec_pins(spec_path: Path, root: Path) -> dict[str, Any]:
    from axowrap.validate import load_spec

    spec = load_spec(spec_path)
    # the Axolotl release the spec was checked and rendered for (axowrap.releases.choose)
    return {"axolotl": spec.axolotl, "base_model": model_pin(spec, root), "datasets": dataset_pins(spec, root)}


def read_lock(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AxowrapError(f"{path}: cannot read the lock ({exc})", hint="write it again with `axowrap lock`") from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION or not isinstance(data.get("specs"), dict):
        raise AxowrapError(
            f"{path}: not an axowrap.lock of version {LOCK_VERSION}", hint="write it again with `axowrap lock`"
        )
    return data


def write_lock(specs: list[Path], root: Path = Path(".")) -> tuple[Path, dict[str, Any]]:
    """Pin `specs` into root/axowrap.lock (other specs already in the lock are kept)."""
    from axowrap.yamlio import atomic_write

    path = root / LOCK_NAME
    old = read_lock(path)["specs"] if path.is_file() else {}
    pinned = {**old, **{_rel(s, root): spec_pins(s, root) for s in specs}}
    lock = {"version": LOCK_VERSION, "packages": versions(), "specs": dict(sorted(pinned.items()))}
    atomic_write(path, HEADER + yaml.safe_dump(lock, sort_keys=False, default_flow_style=False))
    return path, lock


def find_lock(spec_path: Path) -> Path:
    """The axowrap.lock in the spec's folder or the nearest folder above it."""
    start = spec_path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / LOCK_NAME).is_file():
            return folder / LOCK_NAME
    raise AxowrapError(
        f"no {LOCK_NAME} in {start} or any folder above it",
        hint="run `axowrap lock` at the repo root and commit axowrap.lock",
    )


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if COMMIT.fullmatch(text) or re.fullmatch(r"[0-9a-f]{64}", text) else text


def _model_drift(locked: dict[str, Any], spec: Any, root: Path) -> list[str]:
    try:
        now = model_pin(spec, root)
    except AxowrapError as exc:
        return [f"base model: cannot resolve it now ({exc.message})"]
    name = now.get("id") or now.get("path")
    if (locked.get("id"), locked.get("path")) != (now.get("id"), now.get("path")):
        return [f"base model: locked {locked.get('id') or locked.get('path')}, the spec now uses {name}"]
    key = "revision" if "revision" in now else "sha256"
    if locked.get(key) != now[key]:
        return [f"base model {name}: {key} locked {_short(locked.get(key))}, now {_short(now[key])} ({now['source']})"]
    return []


def check_lock(spec_path: Path) -> list[str]:
    """What drifted from axowrap.lock for the spec at `spec_path` (one line each; empty: none)."""
    from axowrap.validate import load_spec

    lock_path = find_lock(spec_path)
    root = lock_path.parent
    lock = read_lock(lock_path)
    drift = [
        f"{name}: locked {want}, installed {have}"
        for name, have in versions().items()
        if (want := (lock.get("packages") or {}).get(name)) != have
    ]
    key = _rel(spec_path, root)
    entry = lock["specs"].get(key)
    if not isinstance(entry, dict):
        return [*drift, f"{key}: not in {lock_path} (run `axowrap lock {key}`)"]
    spec = load_spec(spec_path)
    if entry.get("axolotl") and entry["axolotl"] != spec.axolotl:
        drift.append(f"{key}: checked against Axolotl {entry['axolotl']} when locked, now against {spec.axolotl}")
    drift += [f"{key}: {line}" for line in _model_drift(entry.get("base_model") or {}, spec, root)]
    locked_data = entry.get("datasets") or {}
    now_data = dataset_pins(spec, root)
    for path in sorted(set(locked_data) | set(now_data)):
        want, have = locked_data.get(path), now_data.get(path)
        if want is None:
            drift.append(f"{key}: dataset {path}: not in the lock")
        elif have is None:
            drift.append(f"{key}: dataset {path}: locked, but the spec no longer uses it")
        elif want != have:
            what = "commit" if path.startswith("hub:") else "sha256"
            drift.append(f"{key}: dataset {path}: {what} locked {_short(want)}, now {_short(have)}")
    return drift


def require_locked(spec_path: Path) -> None:
    """Raise (listing every drift) unless the spec matches axowrap.lock."""
    drift = check_lock(spec_path)
    if drift:
        raise AxowrapError(
            f"{spec_path} drifted from {find_lock(spec_path)}:\n  " + "\n  ".join(drift),
            hint="if the change is intended, run `axowrap lock` and commit axowrap.lock",
        )
