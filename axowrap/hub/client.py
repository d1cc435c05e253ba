"""The Hub, through huggingface_hub's HfApi: create a repo, list what it holds, commit files.

Transient failures (5xx, 429, connection errors) are retried with exponential backoff;
401/403/404 become one AxowrapError naming the repo and what to do. A commit is made against
the branch head it was planned on (`parent_commit`), and before a retry the remote files are
compared with the commit's: a commit whose answer was lost is found there, never made twice.
A repo that exists public while the spec asks for private is refused, not pushed to. The token comes from
HF_TOKEN or the saved login (`hf auth login`) and is only ever handed to HfApi: it is never
written, logged or put in a message.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from axowrap.errors import AxowrapError

if TYPE_CHECKING:
    from axowrap.hub.upload import PlanFile

DEFAULT_ENDPOINT = "https://huggingface.co"
BACKOFF = (1.0, 2.0, 4.0, 8.0)  # seconds slept before each retry
RETRY_STATUS = {429, 500, 502, 503, 504}
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteFile:
    size: int
    git_oid: str  # sha1 of the git blob (for LFS files: of the pointer)
    sha256: str | None  # LFS files only


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def resolve_endpoint(endpoint: str | None) -> str:
    """--endpoint, else HF_ENDPOINT (read now, not at import), else the public Hub."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _status(exc: BaseException) -> int | None:
    """The HTTP status behind `exc` or one of its causes (LFS errors arrive wrapped)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if response is not None and getattr(response, "status_code", None):
            return int(response.status_code)
        seen = seen.__cause__ or seen.__context__
    return None


def _transient(exc: BaseException) -> bool:
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.TransportError, ConnectionResetError, ConnectionRefusedError, TimeoutError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return _status(exc) in RETRY_STATUS


def hub_error(exc: BaseException, repo_id: str, endpoint: str, what: str) -> AxowrapError:
    """One clear error for a failed Hub call on `repo_id`."""
    status = _status(exc)
    owner = repo_id.split("/")[0]
    if status == 401:
        return AxowrapError(
            f"{what} {repo_id}: the Hub at {endpoint} rejected the token (401 Unauthorized)",
            hint="log in with `hf auth login` or set HF_TOKEN to a valid token",
        )
    if status == 403:
        return AxowrapError(
            f"{what} {repo_id}: the token may not write there (403 Forbidden)",
            hint=f"use a token with write access, and check you are a member of `{owner}` with write rights",
        )
    if status == 404:
        return AxowrapError(
            f"{what} {repo_id}: not found at {endpoint} (404)",
            hint=f"check the repo id and that the user or org `{owner}` exists and you belong to it",
        )
    detail = f"HTTP {status}" if status else type(exc).__name__
    return AxowrapError(
        f"{what} {repo_id}: failed at {endpoint} ({detail}) after {len(BACKOFF) + 1} tries",
        hint="check the endpoint and your connection, then rerun `axowrap push RUN` (it resumes)",
    )


class HubClient:
    """HfApi for one endpoint and token, with retries and clear errors."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        echo: Callable[[str], None] = lambda _line: None,
    ) -> None:
        from huggingface_hub import HfApi, constants, get_token

        self.endpoint = resolve_endpoint(endpoint)
        if constants.HF_HUB_OFFLINE:
            raise AxowrapError(
                "HF_HUB_OFFLINE is set: huggingface_hub will not reach any Hub",
                hint="unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) to push",
            )
        token = get_token()
        if not token:
            raise AxowrapError(
                f"no Hugging Face token to push to {self.endpoint}", hint="set HF_TOKEN or run `hf auth login`"
            )
        self._api = HfApi(endpoint=self.endpoint, token=token)
        self._sleep = sleep
        self._echo = echo

    def _call(self, what: str, repo_id: str, fn: Callable[[], T]) -> T:
        for attempt, delay in enumerate((*BACKOFF, None)):
            try:
                return fn()
            except AxowrapError:
                raise
            except Exception as exc:
                if delay is None or not _transient(exc):
                    raise hub_error(exc, repo_id, self.endpoint, what) from None
                self._echo(
                    f"push: {what} {repo_id}: {_status(exc) or type(exc).__name__}, retry {attempt + 1} in {delay:g}s"
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def ensure_repo(self, repo_id: str, *, private: bool) -> str:
        """Create the model repo if it does not exist; returns its URL. AxowrapError when the
        spec asks for private and the repo is public (an existing repo keeps its visibility)."""
        url = self._call("creating", repo_id, lambda: self._api.create_repo(repo_id, private=private, exist_ok=True))
        if private and not self.is_private(repo_id):
            raise AxowrapError(
                f"{repo_id} is public on {self.endpoint}, but export.hub.private is true: not pushing",
                hint="make the repo private on the Hub, or set `export.hub.private: false` if it is meant to be public",
            )
        return str(url)

    def is_private(self, repo_id: str) -> bool:
        info = self._call("reading", repo_id, lambda: self._api.repo_info(repo_id))
        return bool(getattr(info, "private", False))

    def head(self, repo_id: str) -> str | None:
        """The commit at the head of the repo's main branch (None for a repo without one)."""
        info = self._call("reading", repo_id, lambda: self._api.repo_info(repo_id))
        return getattr(info, "sha", None)

    def remote_files(self, repo_id: str) -> dict[str, RemoteFile]:
        """Every file in the repo's main branch with its size and hashes."""

        from huggingface_hub.hf_api import RepoFile

        def listing() -> dict[str, RemoteFile]:
            out = {}
            for entry in self._api.list_repo_tree(repo_id, recursive=True):
                if isinstance(entry, RepoFile):  # not a folder
                    lfs = entry.lfs
                    out[entry.path] = RemoteFile(entry.size, entry.blob_id, lfs.sha256 if lfs else None)
            return out

        return self._call("listing", repo_id, listing)

    def commit(self, repo_id: str, files: Iterable[PlanFile], message: str) -> dict[str, Any]:
        """One commit adding `files`; returns {"oid", "url"}. Raises unless the Hub accepted it."""
        from huggingface_hub import CommitOperationAdd

        files = list(files)

        def attempt(parent: str | None) -> Any:
            # fresh operations each try: a failed try may have consumed upload state
            ops = [
                CommitOperationAdd(
                    path_in_repo=f.path, path_or_fileobj=f.content if f.content is not None else str(f.local)
                )
                for f in files
            ]
            return self._api.create_commit(repo_id, operations=ops, commit_message=message, parent_commit=parent)

        for tries, delay in enumerate((*BACKOFF, None)):
            parent = self.head(repo_id)
            try:
                info = attempt(parent)
                return {"oid": info.oid, "url": info.commit_url}
            except AxowrapError:
                raise
            except Exception as exc:
                if self._landed(repo_id, files):  # the commit was made; only its answer was lost
                    self._echo(f"push: {repo_id}: the commit landed although its answer was lost; not committing again")
                    head = self.head(repo_id) or ""
                    return {"oid": head, "url": f"{self.endpoint}/{repo_id}/commit/{head}"}
                if delay is None or not _transient(exc):
                    raise hub_error(exc, repo_id, self.endpoint, "uploading to") from None
                self._echo(
                    f"push: uploading to {repo_id}: {_status(exc) or type(exc).__name__}, retry {tries + 1} in {delay:g}s"
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _landed(self, repo_id: str, files: list[PlanFile]) -> bool:
        """Whether every one of `files` is on the remote as it is here."""
        try:
            remote = self.remote_files(repo_id)
        except AxowrapError:
            return False
        for f in files:
            have = remote.get(f.path)
            if have is None or have.size != f.size:
                return False
            if have.sha256 != f.sha256 if have.sha256 else have.git_oid != f.git_oid():
                return False
        return True
