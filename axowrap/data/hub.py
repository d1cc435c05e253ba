"""Hub datasets: resolve a spec's `datasets[]` entry (Hub id, `revision`, `name`, `split`,
`data_files`) to a commit and the data files of that subset and split, downloaded once into
the Hugging Face cache through huggingface_hub (which honours HF_ENDPOINT, HF_TOKEN and
HF_HUB_OFFLINE; the token is never written anywhere by axowrap).

Which files make a subset and split, as the `datasets` library decides for a repo:
1. `data_files` in the spec (a pattern, a list, or a mapping split -> patterns);
2. else the `configs:` of the repo's README.md (`config_name`, `data_files`, `default`);
3. else the repo's layout: files under `NAME/` for a subset (the layout of the Hub's Parquet
   conversion, `refs/convert/parquet`), then the default patterns of `datasets`, in its order:
   sharded `data/SPLIT-00000-of-00001.*` files; the split keywords (train/training,
   validation/valid/dev/val, test/testing/eval/evaluation) in folder names; in file names;
   else every file is `train`.
Offline (HF_HUB_OFFLINE=1) or with the Hub unreachable, the cached snapshot of the revision is
used; when it is not cached the error names the dataset, the endpoint and how to fetch it.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from axowrap.datafiles import DATA_FILE_TYPES
from axowrap.errors import AxowrapError
from axowrap.hfcache import hub_cache

SPLIT_KEYWORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
COMMIT = re.compile(r"[0-9a-f]{40}")
TIMEOUT_S = 10.0


class HubDataError(AxowrapError):
    """A Hub dataset that cannot be used as written; `key` names the spec key at fault."""

    def __init__(self, message: str, *, key: str = "path", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


@dataclass(frozen=True)
class HubDataset:
    """A Hub dataset resolved to a commit and the local copies of its data files."""

    repo_id: str
    revision: str  # as asked (default main)
    sha: str  # the commit it resolved to
    name: str | None
    split: str
    repo_files: list[str]  # the chosen files, paths in the repo
    files: list[Path] = field(default_factory=list)  # their local copies, same order
    source: str = "hub"  # hub | cache

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.repo_id,
            "revision": self.revision,
            "sha": self.sha,
            "name": self.name,
            "split": self.split,
            "files": self.repo_files,
        }


def endpoint() -> str:
    """The Hub endpoint huggingface_hub talks to (HF_ENDPOINT, read now: a mirror or a test's Hub)."""
    return os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def offline() -> bool:
    """Whether huggingface_hub, which does the downloads, refuses the network now (it reads
    HF_HUB_OFFLINE when imported; axowrap.hfcache.offline answers the same from the environment
    for code that must not import it)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _repo_folder(repo_id: str) -> Path:
    return hub_cache() / f"datasets--{repo_id.replace('/', '--')}"


def fetch_hint(repo_id: str, revision: str) -> str:
    rev = f" --revision {revision}" if revision != "main" else ""
    return (
        f"fetch it once where the Hub is reachable: `hf download --repo-type dataset {repo_id}{rev}` "
        "(the same HF_HOME/HF_HUB_CACHE), or unset HF_HUB_OFFLINE"
    )


# --- which files ------------------------------------------------------------------------------


def data_file(path: str) -> bool:
    p = PurePosixPath(path)
    return p.suffix.lower() in DATA_FILE_TYPES and not any(part.startswith((".", "__")) for part in p.parts)


def _patterns(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _match(files: Sequence[str], patterns: list[str]) -> list[str]:
    out = []
    for f in files:
        if any(f == p or fnmatch.fnmatchcase(f, p) or fnmatch.fnmatchcase(f, p.replace("**/", "")) for p in patterns):
            out.append(f)
    return out


_SEP = "-._ 0-9"  # what may stand around a split keyword (datasets' NON_WORDS_CHARS)
_SHARDED = re.compile(r"^data/(?P<split>\w+(?:\.\w+)*)-[0-9]{5}-of-[0-9]{5}[^/]*\.[^/]*$")


def _keyword_in(text: str, keyword: str, *, as_dir: bool) -> bool:
    word = re.escape(keyword)
    if as_dir:  # the folder is the keyword, or has it between separators
        return re.fullmatch(rf"(.*[{_SEP}])?{word}([{_SEP}].*)?", text) is not None
    return re.match(rf"{word}[{_SEP}]", text) is not None or re.search(rf"[{_SEP}]{word}[{_SEP}]", text) is not None


def default_splits(files: Sequence[str]) -> dict[str, list[str]]:
    """Split -> files, by the `datasets` library's default patterns, in its order: sharded
    `data/SPLIT-00000-of-00001.*` files; else the split keywords in folder names; else in file
    names; else every file is `train`."""
    sharded = {f: m.group("split") for f in files if (m := _SHARDED.match(f))}
    if sharded:
        out: dict[str, list[str]] = {}
        for f, split in sharded.items():
            out.setdefault(split, []).append(f)
        return out
    for as_dir in (True, False):
        found: dict[str, list[str]] = {}
        for split, words in SPLIT_KEYWORDS.items():
            for f in files:
                parts = PurePosixPath(f).parts
                places = parts[:-1] if as_dir else parts[-1:]
                if any(_keyword_in(p, w, as_dir=as_dir) for p in places for w in words):
                    found.setdefault(split, []).append(f)
        if found:
            return found
    return {"train": list(files)} if files else {}


def readme_configs(text: str | None) -> list[dict[str, Any]]:
    """The `configs:` of a dataset card's YAML header (empty when there is none)."""
    if not text or not text.startswith("---"):
        return []
    end = text.find("\n---", 3)
    if end < 0:
        return []
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return []
    configs = meta.get("configs") if isinstance(meta, dict) else None
    return [c for c in configs if isinstance(c, dict)] if isinstance(configs, list) else []


def choose_files(
    repo_files: Sequence[str],
    *,
    configs: list[dict[str, Any]] | None = None,
    name: str | None = None,
    split: str = "train",
    data_files: Any = None,
) -> list[str]:
    """The repo files of subset `name`, split `split` (see the module docstring), or a
    HubDataError naming the spec key (`name`, `split`, `data_files`) and what exists."""
    files = sorted(f for f in repo_files if data_file(f))
    if data_files is not None:
        if isinstance(data_files, dict):
            if split not in data_files:
                raise HubDataError(
                    f"split {split!r} is not among the splits of `data_files` ({', '.join(map(str, data_files))})",
                    key="split",
                )
            patterns = _patterns(data_files[split])
        else:
            patterns = _patterns(data_files)
        chosen = _match(files, patterns)
        if not chosen:
            raise HubDataError(
                f"`data_files` {patterns} match no data file of the repo (it has: {_some(files)})", key="data_files"
            )
        return chosen
    if configs:
        return _from_configs(files, configs, name, split)
    if name is not None:
        subsets = sorted({PurePosixPath(f).parts[0] for f in files if len(PurePosixPath(f).parts) > 1})
        files = [f for f in files if PurePosixPath(f).parts[0] == name]
        if not files:
            raise HubDataError(
                f"no subset {name!r} (the repo's folders: {', '.join(subsets) or 'none'})",
                key="name",
                hint="leave `name` out for a repo with one subset",
            )
    splits = default_splits([f[len(name) + 1 :] for f in files] if name is not None else files)
    prefix = f"{name}/" if name is not None else ""
    if split not in splits:
        raise HubDataError(
            f"no split {split!r} (the repo has: {', '.join(sorted(splits)) or 'no data files'})", key="split"
        )
    return [prefix + f for f in splits[split]]


def _some(files: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(files[:n])
    return shown + (f", ... ({len(files)} files)" if len(files) > n else "") if files else "no data files"


def _from_configs(files: list[str], configs: list[dict[str, Any]], name: str | None, split: str) -> list[str]:
    names = [str(c.get("config_name", "default")) for c in configs]
    if name is not None:
        config = next((c for c, n in zip(configs, names, strict=True) if n == name), None)
        if config is None:
            raise HubDataError(f"no subset {name!r} (the dataset card lists: {', '.join(names)})", key="name")
    else:
        config = next((c for c in configs if c.get("default")), None)
        config = config or next((c for c, n in zip(configs, names, strict=True) if n == "default"), None)
        if config is None and len(configs) == 1:
            config = configs[0]
        if config is None:
            raise HubDataError(
                f"the dataset has several subsets ({', '.join(names)}) and none is the default", key="name"
            )
    spec = config.get("data_files")
    if isinstance(spec, list) and spec and all(isinstance(x, dict) for x in spec):
        by_split = {str(x.get("split", "train")): _patterns(x.get("path")) for x in spec}
    elif isinstance(spec, dict):
        by_split = {str(k): _patterns(v) for k, v in spec.items()}
    elif spec:
        by_split = {"train": _patterns(spec)}
    else:
        return choose_files(files, name=None, split=split)
    if split not in by_split:
        label = config.get("config_name", "default")
        raise HubDataError(f"no split {split!r} in subset {label!r} (it has: {', '.join(by_split)})", key="split")
    chosen = _match(files, by_split[split])
    if not chosen:
        raise HubDataError(f"the dataset card's files for split {split!r} ({by_split[split]}) are not in the repo")
    return chosen


# --- resolve and download -----------------------------------------------------------------------


def resolve(entry: dict[str, Any], *, download: bool = True, progress: bool = True) -> HubDataset:
    """The commit and data files of a spec's Hub dataset entry; the files are downloaded into
    the cache unless `download` is false (then `files` is empty: `axowrap lock` needs only the sha)."""
    repo_id = str(entry["path"])
    revision = str(entry.get("revision") or "main")
    name = entry.get("name")
    split = str(entry.get("split") or "train")
    if not offline():
        try:
            return _online(repo_id, revision, name, split, entry.get("data_files"), download, progress)
        except _Unreachable as exc:  # the cache may still hold it
            return _cached(repo_id, revision, name, split, entry.get("data_files"), why=str(exc))
    return _cached(repo_id, revision, name, split, entry.get("data_files"), why="HF_HUB_OFFLINE is set")


class _Unreachable(Exception):
    pass


def _online(
    repo_id: str, revision: str, name: str | None, split: str, data_files: Any, download: bool, progress: bool
) -> HubDataset:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api = HfApi(endpoint=endpoint())
    try:
        info = api.dataset_info(repo_id, revision=revision, timeout=TIMEOUT_S)
    except GatedRepoError:
        raise HubDataError(
            f"Hub dataset {repo_id!r} at {endpoint()} is gated: your token has no access",
            hint="accept its terms on the Hub, and set HF_TOKEN to a token of that account",
        ) from None
    except RevisionNotFoundError:
        raise HubDataError(
            f"Hub dataset {repo_id!r} has no revision {revision!r} at {endpoint()}",
            key="revision",
            hint="a branch, a tag or a 40-hex commit of the dataset repo",
        ) from None
    except RepositoryNotFoundError:
        raise HubDataError(
            f"no Hub dataset {repo_id!r} at {endpoint()} (or it is private and HF_TOKEN cannot read it)",
            hint="check the id (`owner/name`); for a private dataset set HF_TOKEN",
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise HubDataError(
                f"Hub dataset {repo_id!r} at {endpoint()}: access refused ({status})",
                hint="set HF_TOKEN to a token that can read it",
            ) from None
        raise _Unreachable(f"the Hub at {endpoint()} answered {status}") from None
    except (OSError, ValueError) as exc:  # connection refused, DNS, timeouts (httpx errors are OSErrors here)
        raise _Unreachable(f"{endpoint()} is unreachable ({type(exc).__name__})") from None
    except Exception as exc:  # httpx transport errors that are not OSErrors
        if type(exc).__module__.startswith(("httpx", "httpcore")):
            raise _Unreachable(f"{endpoint()} is unreachable ({type(exc).__name__})") from None
        raise
    sha = str(info.sha)
    repo_files = [s.rfilename for s in info.siblings or []]
    readme = None
    if "README.md" in repo_files and data_files is None:
        readme = _read(
            hf_hub_download(
                repo_id, "README.md", repo_type="dataset", revision=sha, endpoint=endpoint(), cache_dir=hub_cache()
            )
        )
    chosen = choose_files(repo_files, configs=readme_configs(readme), name=name, split=split, data_files=data_files)
    local: list[Path] = []
    if download:
        import huggingface_hub.utils as hub_utils

        quiet = not progress and hub_utils.are_progress_bars_disabled() is False
        if quiet:
            hub_utils.disable_progress_bars()
        try:
            local = [
                Path(
                    hf_hub_download(
                        repo_id, f, repo_type="dataset", revision=sha, endpoint=endpoint(), cache_dir=hub_cache()
                    )
                )
                for f in chosen
            ]
        finally:
            if quiet:
                hub_utils.enable_progress_bars()
    if local:
        _remember_ref(repo_id, revision, sha)
    return HubDataset(repo_id, revision, sha, name, split, chosen, local, "hub")


def _remember_ref(repo_id: str, revision: str, sha: str) -> None:
    """Record in the cache that `revision` is `sha`, as snapshot_download does, so an offline
    run finds the snapshot by its branch name (files downloaded by commit do not record it)."""
    if revision == sha:
        return
    ref = _repo_folder(repo_id) / "refs" / revision
    if (_read(ref) or "").strip() == sha:
        return
    from axowrap.yamlio import atomic_write

    atomic_write(ref, sha)


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _cached(repo_id: str, revision: str, name: str | None, split: str, data_files: Any, *, why: str) -> HubDataset:
    folder = _repo_folder(repo_id)
    sha = revision if COMMIT.fullmatch(revision) else _read(folder / "refs" / revision)
    snapshot = folder / "snapshots" / sha.strip() if sha else None
    if snapshot is None or not snapshot.is_dir():
        raise HubDataError(
            f"Hub dataset {repo_id!r} ({revision}) cannot be fetched: {why}, and it is not in the cache "
            f"({hub_cache()}); endpoint {endpoint()}",
            hint=fetch_hint(repo_id, revision),
        )
    assert sha is not None
    present = sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())
    readme = _read(snapshot / "README.md") if data_files is None else None
    try:
        chosen = choose_files(present, configs=readme_configs(readme), name=name, split=split, data_files=data_files)
    except HubDataError as exc:
        raise HubDataError(
            f"Hub dataset {repo_id!r} ({revision}): {exc.message}, in the cached files ({why})",
            key=exc.key,
            hint=fetch_hint(repo_id, revision),
        ) from None
    return HubDataset(repo_id, revision, sha.strip(), name, split, chosen, [snapshot / f for f in chosen], "cache")


def resolve_sha(entry: dict[str, Any]) -> tuple[str, str]:
    """(commit, where it came from: spec | hub | cache) of a Hub dataset entry, nothing downloaded."""
    revision = str(entry.get("revision") or "main")
    if COMMIT.fullmatch(revision):
        return revision, "spec"
    found = resolve(entry, download=False, progress=False)
    return found.sha, found.source
