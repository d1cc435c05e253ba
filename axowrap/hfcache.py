"""The local Hugging Face hub cache, read without importing huggingface_hub (validate and plan
stay fast): where it is, whether we are offline, and a cached file of a model repo.

The layout is huggingface_hub's: <cache>/models--OWNER--NAME/refs/<revision> holds a commit
hash, and <cache>/models--OWNER--NAME/snapshots/<commit>/<file> the file at that commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

COMMIT = re.compile(r"[0-9a-f]{40}")


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, by the same environment rules as huggingface_hub."""
    if os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ.get("HF_HUB_CACHE") or os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("HF_HOME") or os.path.join(xdg, "huggingface")).expanduser() / "hub"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def repo_folder(repo_id: str) -> Path:
    return hub_cache() / f"models--{repo_id.replace('/', '--')}"


def cached_commit(repo_id: str, revision: str) -> str | None:
    """The commit `revision` (a branch, tag or commit) points to in the cache, if known."""
    if COMMIT.fullmatch(revision):
        return revision if (repo_folder(repo_id) / "snapshots" / revision).is_dir() else None
    try:
        value = (repo_folder(repo_id) / "refs" / revision).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value if COMMIT.fullmatch(value) else None


def cached_file(repo_id: str, filename: str, revision: str = "main") -> tuple[Path, str] | None:
    """(path, commit) of `filename` of the model repo at `revision` in the cache, or None."""
    commit = cached_commit(repo_id, revision)
    if commit is None:
        return None
    path = repo_folder(repo_id) / "snapshots" / commit / filename
    return (path, commit) if path.is_file() else None


def cached_absent(repo_id: str, filename: str, commit: str) -> bool:
    """Whether the cache remembers that `filename` does not exist at `commit` (huggingface_hub
    writes such markers under .no_exist/ when a download answers 404)."""
    return (repo_folder(repo_id) / ".no_exist" / commit / filename).exists()
