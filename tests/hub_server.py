"""A local Hugging Face Hub for tests: a standard-library HTTP server on 127.0.0.1 that speaks
the subset of the Hub protocol huggingface_hub 1.17 uses for create_repo, list_repo_tree and
create_commit (preupload, LFS batch with the `basic` transfer, NDJSON commit), and for
hf_hub_download of a model's files (HEAD then GET `/{repo}/resolve/{revision}/{path}`, with the
X-Repo-Commit and ETag headers it needs; 404s carry the Hub's X-Error-Code), and for
downloading dataset repos: repo info at a revision (`sha`, `siblings`), the file tree, and
`resolve` (HEAD and GET, with `X-Repo-Commit` and `ETag`), branches such as
`refs/convert/parquet` included.

It stores files and commits in memory, checks the bearer token (dataset downloads: only for a
private dataset), and can be told to fail: `fail_commits = 1` answers the next commit with 500,
`status = 401` answers everything with 401. `lfs_threshold` decides which files go through LFS
(set it low to exercise both paths). `add_dataset` publishes a dataset repo at a revision.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

TOKEN = "hf_test_SECRET_0123456789abcdef"
LFS_THRESHOLD = 4096  # low: weights go through LFS, configs and cards inline


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool


@dataclass
class Repo:
    private: bool
    files: dict[str, StoredFile] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    gated: bool = False

    @property
    def head(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40


@dataclass
class DatasetRepo:
    """A dataset repo: each branch points at a commit; each commit holds its files."""

    private: bool = False
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> path -> bytes


@dataclass
class Hub:
    """What the server knows and what it saw; tests read and set these fields."""

    token: str
    lfs_threshold: int = 1024
    fail_commits: int = 0  # answer this many next commits with 500
    status: int | None = None  # answer every request with this status (e.g. 401)
    repos: dict[str, Repo] = field(default_factory=dict)
    lfs_objects: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lfs_puts: list[str] = field(default_factory=list)
    datasets: dict[str, DatasetRepo] = field(default_factory=dict)
    url: str = ""

    def seed(self, repo_id: str, files: dict[str, bytes], *, gated: bool = False) -> str:
        """A model repo holding `files` in one commit (as if pushed); returns the commit."""
        repo = self.repos.setdefault(repo_id, Repo(private=False))
        repo.gated = gated
        for path, data in files.items():
            repo.files[path] = StoredFile(data, lfs=len(data) >= self.lfs_threshold)
        oid = hashlib.sha1(f"{repo_id}{len(repo.commits)}{sorted(files)}".encode()).hexdigest()
        repo.commits.append({"oid": oid, "summary": "seed", "files": sorted(files)})
        return oid

    def add_dataset(
        self, repo_id: str, files: dict[str, bytes], *, revision: str = "main", private: bool = False
    ) -> str:
        """Publish `files` as a new commit of dataset `repo_id` on branch `revision`; its sha."""
        repo = self.datasets.setdefault(repo_id, DatasetRepo(private=private))
        repo.private = private
        sha = hashlib.sha1(f"{repo_id}{revision}{len(repo.commits)}{sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = dict(files)
        repo.refs[revision] = sha
        return sha

    def file_bytes(self, repo_id: str) -> dict[str, bytes]:
        return {p: f.data for p, f in self.repos[repo_id].files.items()}

    def count(self, kind: str) -> int:
        """Requests seen whose path contains `kind` (e.g. "/commit/", "/preupload/")."""
        return sum(kind in path for _, path in self.requests)


REPO = r"(?P<repo>[^/]+/[^/]+)"
ROUTES = [
    ("POST", re.compile(r"^/api/repos/create$"), "create"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    ("GET", re.compile(rf"^/api/models/{REPO}/tree/(?P<rev>[^/]+)(?P<sub>/.*)?$"), "tree"),
    ("POST", re.compile(rf"^/{REPO}\.git/info/lfs/objects/batch$"), "lfs_batch"),
    ("GET", re.compile(rf"^/api/datasets/{REPO}(?:/revision/(?P<rev>[^/]+))?$"), "dataset_info"),
    ("GET", re.compile(rf"^/api/datasets/{REPO}/tree/(?P<rev>[^/]+)(?P<sub>/.*)?$"), "dataset_tree"),
    ("GET", re.compile(rf"^/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"), "dataset_resolve"),
    ("HEAD", re.compile(rf"^/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"), "dataset_resolve"),
    ("PUT", re.compile(r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$"), "lfs_put"),
    ("GET", re.compile(rf"^/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"), "resolve"),
    ("HEAD", re.compile(rf"^/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"), "resolve"),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    method = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def hub(self) -> Hub:
        return self.server.hub

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.method != "HEAD":
            self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        self.method = method
        body = self._body()
        path = urlparse(self.path).path
        with self.server.lock:
            self.hub.requests.append((method, path))
        if self.hub.status is not None:
            return self._send(
                self.hub.status,
                {"error": "Invalid credentials in Authorization header"},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
        public = "/resolve/" in path or path.startswith(("/lfs-upload/", "/api/datasets/"))  # datasets check their own
        if not public and self.headers.get("Authorization") != f"Bearer {self.hub.token}":
            return self._send(401, {"error": "Invalid credentials in Authorization header"})
        for verb, pattern, name in ROUTES:
            match = pattern.match(path)
            if verb == method and match:
                with self.server.lock:
                    return getattr(self, name)(body, **{k: unquote(v or "") for k, v in match.groupdict().items()})
        self._send(404, {"error": f"no route {method} {path}"})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _repo(self, repo: str) -> Repo | None:
        found = self.hub.repos.get(repo)
        if found is None:
            self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        return found

    # -- routes -------------------------------------------------------------------------------
    def create(self, body: bytes) -> None:
        req = json.loads(body)
        repo_id = f"{req.get('organization') or 'user'}/{req['name']}"
        url = {"url": f"{self.hub.url}/{repo_id}"}
        if repo_id in self.hub.repos:
            return self._send(409, {**url, "error": "You already created this model repo"})
        self.hub.repos[repo_id] = Repo(
            private=req.get("visibility", "private" if req.get("private") else "public") != "public"
        )
        self._send(200, url)

    def validate_yaml(self, body: bytes) -> None:
        self._send(200, {"errors": [], "warnings": []})

    def preupload(self, body: bytes, repo: str, rev: str) -> None:
        if (found := self._repo(repo)) is None:
            return
        files = []
        for f in json.loads(body)["files"]:
            stored = found.files.get(f["path"])
            oid = (
                None
                if stored is None
                else (hashlib.sha256(stored.data).hexdigest() if stored.lfs else git_blob_oid(stored.data))
            )
            mode = "lfs" if f["size"] >= self.hub.lfs_threshold else "regular"
            files.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        self._send(200, {"files": files, "commitOid": "0" * 40})

    def lfs_batch(self, body: bytes, repo: str) -> None:
        if self._repo(repo) is None:
            return
        objects = []
        for obj in json.loads(body)["objects"]:
            entry: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.lfs_objects:
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{obj['oid']}", "header": {}}}
            objects.append(entry)
        self._send(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_put(self, body: bytes, oid: str) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            return self._send(400, {"error": "sha256 mismatch"})
        self.hub.lfs_objects[oid] = body
        self.hub.lfs_puts.append(oid)
        self._send(200, {})

    def commit(self, body: bytes, repo: str, rev: str) -> None:
        if (found := self._repo(repo)) is None:
            return
        if self.hub.fail_commits > 0:
            self.hub.fail_commits -= 1
            return self._send(500, {"error": "Internal Error - We're working hard to fix this as soon as possible!"})
        changes: dict[str, StoredFile | None] = {}
        summary = ""
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                summary = value.get("summary", "")
            elif item["key"] == "file":
                changes[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif item["key"] == "lfsFile":
                data = self.hub.lfs_objects.get(value["oid"])
                if data is None:
                    return self._send(
                        422, {"error": f"LFS object {value['oid']} for {value['path']} was never uploaded"}
                    )
                changes[value["path"]] = StoredFile(data, lfs=True)
            elif item["key"] == "deletedFile":
                changes[value["path"]] = None
        for path, stored in changes.items():
            if stored is None:
                found.files.pop(path, None)
            else:
                found.files[path] = stored
        oid = hashlib.sha1(f"{repo}{len(found.commits)}{sorted(changes)}".encode()).hexdigest()
        found.commits.append({"oid": oid, "summary": summary, "files": sorted(changes)})
        self._send(
            200,
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self.hub.url}/{repo}/commit/{oid}",
                "pullRequestUrl": None,
            },
        )

    def resolve(self, body: bytes, repo: str, rev: str, file: str) -> None:
        """A file at a revision (main, or the head commit): headers for HEAD, bytes for GET."""
        found = self.hub.repos.get(repo)
        if found is None:
            return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if found.gated:
            return self._send(403, {"error": "Access to model is restricted"}, {"X-Error-Code": "GatedRepo"})
        if rev not in ("main", found.head):
            return self._send(404, {"error": f"Invalid rev id: {rev}"}, {"X-Error-Code": "RevisionNotFound"})
        stored = found.files.get(file)
        if stored is None:
            return self._send(
                404,
                {"error": "Entry not found"},
                {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": found.head},
            )
        etag = hashlib.sha256(stored.data).hexdigest() if stored.lfs else git_blob_oid(stored.data)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(stored.data)))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Repo-Commit", found.head)
        self.end_headers()
        if self.method == "GET":
            self.wfile.write(stored.data)

    def tree(self, body: bytes, repo: str, rev: str, sub: str = "") -> None:
        if (found := self._repo(repo)) is None:
            return
        entries = []
        for path, stored in sorted(found.files.items()):
            entry: dict[str, Any] = {"type": "file", "path": path, "size": len(stored.data)}
            if stored.lfs:
                sha = hashlib.sha256(stored.data).hexdigest()
                pointer = lfs_pointer(sha, len(stored.data))
                entry.update(
                    oid=git_blob_oid(pointer), lfs={"oid": sha, "size": len(stored.data), "pointerSize": len(pointer)}
                )
            else:
                entry["oid"] = git_blob_oid(stored.data)
            entries.append(entry)
        self._send(200, entries)

    # -- dataset downloads ----------------------------------------------------------------------
    def _dataset(self, repo: str, rev: str) -> tuple[str, dict[str, bytes]] | None:
        """(sha, files) of `repo` at `rev`, or None after answering the error as the Hub does."""
        found = self.hub.datasets.get(repo)
        authorized = self.headers.get("Authorization") == f"Bearer {self.hub.token}"
        if found is None or (found.private and not authorized):
            # the Hub answers 401 for a private repo without access, 404 for a missing one
            self._send(
                401 if found is not None else 404,
                {"error": "Repository not found"},
                {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
            )
            return None
        sha = rev if rev in found.commits else found.refs.get(rev)
        if sha is None:
            self._send(
                404,
                {"error": f"Invalid rev id: {rev}"},
                {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {rev}"},
            )
            return None
        return sha, found.commits[sha]

    def dataset_info(self, body: bytes, repo: str, rev: str = "") -> None:
        found = self._dataset(repo, rev or "main")
        if found is None:
            return
        sha, files = found
        private = self.hub.datasets[repo].private
        self._send(
            200,
            {
                "_id": sha[:24],
                "id": repo,
                "sha": sha,
                "private": private,
                "gated": False,
                "disabled": False,
                "tags": [],
                "siblings": [{"rfilename": p} for p in sorted(files)],
            },
        )

    def dataset_tree(self, body: bytes, repo: str, rev: str, sub: str = "") -> None:
        found = self._dataset(repo, rev)
        if found is None:
            return
        _, files = found
        self._send(
            200, [{"type": "file", "path": p, "size": len(d), "oid": git_blob_oid(d)} for p, d in sorted(files.items())]
        )

    def dataset_resolve(self, body: bytes, repo: str, rev: str, file: str) -> None:
        found = self._dataset(repo, rev)
        if found is None:
            return
        sha, files = found
        if file not in files:
            return self._send(
                404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha}
            )
        data = files[file]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Repo-Commit", sha)
        self.send_header("ETag", f'"{git_blob_oid(data)}"')
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: Hub
    lock: threading.Lock


def serve(hub: Hub) -> tuple[_Server, threading.Thread]:
    """Start the server on a free port of 127.0.0.1; sets hub.url. Stop with server.shutdown()."""
    server = _Server(("127.0.0.1", 0), Handler)
    server.hub = hub
    server.lock = threading.Lock()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Hub]:
    """A local Hub that accepts TOKEN (given as HF_TOKEN); huggingface_hub is put online for it
    (tests/conftest.py sets HF_HUB_OFFLINE=1, which huggingface_hub reads once at import)."""
    from huggingface_hub import constants

    state = Hub(token=TOKEN, lfs_threshold=LFS_THRESHOLD)
    server, _ = serve(state)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # never the machine's saved login
    yield state
    server.shutdown()
    server.server_close()
