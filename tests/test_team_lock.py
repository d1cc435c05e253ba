"""axowrap.lock: what `axowrap lock` pins, and `run --locked` refusing on drift."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, write
from helpers import run_cli

from axowrap.team.lock import check_lock

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> Path:
    """A repo with one spec on a local model folder (the tiny model) and one on a Hub id."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # an empty cache, never ~/.cache
    shutil.copytree(tiny_model, tmp_path / "models" / "tiny")
    shutil.copytree(EXAMPLES / "data", tmp_path / "specs" / "data")
    write(
        tmp_path / "specs" / "local.yaml",
        "task: sql\nbase_model: ../models/tiny\ndatasets: [{path: data/sql.jsonl}]\ncompute: {target: cpu}\n",
    )
    write(
        tmp_path / "specs" / "hub.yaml",
        "task: chat\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\ndatasets: [{path: data/chat.jsonl}]\n"
        "compute: {target: cpu}\n",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cache_ref(repo: Path, model: str, commit: str) -> None:
    """The on-disk layout huggingface_hub leaves after a download: refs/<revision> holds the commit."""
    write(repo / "hf-cache" / f"models--{model.replace('/', '--')}" / "refs" / "main", commit)


def test_an_unpinnable_hub_model_says_how_to_pin_it(repo: Path) -> None:
    res = run_cli("lock")
    assert res.code == 1
    assert (
        "error: specs/hub.yaml: cannot pin base model 'HuggingFaceTB/SmolLM2-135M-Instruct' at 'main': "
        "HF_HUB_OFFLINE is set, and the local cache"
    ) in res.err
    assert "hint: pin it in the spec: `revision: <40-hex commit>`" in res.err
    assert not (repo / "axowrap.lock").exists()


def test_lock_pins_versions_revisions_and_data(repo: Path) -> None:
    cache_ref(repo, "HuggingFaceTB/SmolLM2-135M-Instruct", COMMIT)
    res = run_cli("lock")
    assert res.code == 0, res.err
    lock = yaml.safe_load((repo / "axowrap.lock").read_text())
    assert set(lock["packages"]) == {
        "axowrap",
        "python",
        "axolotl",
        "transformers",
        "peft",
        "trl",
        "accelerate",
        "torch",
        "datasets",
    }
    hub = lock["specs"]["specs/hub.yaml"]
    from axowrap.releases import choose

    assert hub["axolotl"] == choose().version  # the Axolotl release the spec was checked against
    assert hub["base_model"] == {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": COMMIT, "source": "cache"}
    assert list(hub["datasets"]) == ["specs/data/chat.jsonl"]
    local = lock["specs"]["specs/local.yaml"]["base_model"]
    assert local["path"] == "models/tiny" and local["source"] == "local folder" and len(local["sha256"]) == 64
    assert check_lock(Path("specs/local.yaml")) == [] and check_lock(Path("specs/hub.yaml")) == []
    assert run_cli("lock", "--check").out == "no drift\n"
    ok = run_cli("run", "specs/local.yaml", "--locked", "--dry-run", "--steps", "train")
    assert ok.code == 0 and "==> train: dry-run" in ok.out, ok.err


def test_a_changed_axolotl_release_is_drift(repo: Path) -> None:
    assert run_cli("lock", "specs/local.yaml").code == 0
    lock_path = repo / "axowrap.lock"
    text = lock_path.read_text()
    from axowrap.releases import choose

    now = choose().version
    other = "0.21.0" if now == "0.19.0" else "0.19.0"
    lock_path.write_text(text.replace(f"axolotl: {now}\n    base_model", f"axolotl: {other}\n    base_model"))
    assert check_lock(Path("specs/local.yaml")) == [
        f"specs/local.yaml: checked against Axolotl {other} when locked, now against {now}"
    ]


def test_a_pinned_revision_needs_no_hub(repo: Path) -> None:
    spec = repo / "specs" / "hub.yaml"
    spec.write_text(spec.read_text() + f"revision: {COMMIT}\n")
    assert run_cli("lock", "specs/hub.yaml").code == 0
    lock = yaml.safe_load((repo / "axowrap.lock").read_text())
    assert lock["specs"]["specs/hub.yaml"]["base_model"]["source"] == "spec"
    assert list(lock["specs"]) == ["specs/hub.yaml"]


def test_a_changed_dataset_byte_makes_run_locked_refuse(repo: Path) -> None:
    assert run_cli("lock", "specs/local.yaml").code == 0
    data = repo / "specs" / "data" / "sql.jsonl"
    raw = bytearray(data.read_bytes())
    raw[raw.index(b"SELECT")] = ord("s")
    data.write_bytes(bytes(raw))
    drift = check_lock(Path("specs/local.yaml"))
    assert len(drift) == 1 and drift[0].startswith("specs/local.yaml: dataset specs/data/sql.jsonl: sha256 locked ")
    res = run_cli("run", "specs/local.yaml", "--locked", "--dry-run")
    assert res.code == 1
    assert (
        "error: specs/local.yaml drifted from" in res.err and "dataset specs/data/sql.jsonl: sha256 locked" in res.err
    )
    assert not (repo / "runs").exists()  # refused before anything was prepared


def test_model_package_and_unlocked_spec_drift(repo: Path) -> None:
    assert run_cli("lock", "specs/local.yaml").code == 0
    lock_file = repo / "axowrap.lock"
    lock = yaml.safe_load(lock_file.read_text())
    lock["packages"]["torch"] = "0.0.1"
    lock_file.write_text(yaml.safe_dump(lock))
    (repo / "models" / "tiny" / "config.json").write_text((repo / "models" / "tiny" / "config.json").read_text() + " ")
    drift = check_lock(Path("specs/local.yaml"))
    assert drift[0].startswith("torch: locked 0.0.1, installed ")
    assert drift[1].startswith("specs/local.yaml: base model ") and "sha256 locked" in drift[1]
    res = run_cli("lock", "specs/local.yaml", "--check")
    assert res.code == 1 and res.out.splitlines() == drift and "error: 2 drift(s) from axowrap.lock" in res.err
    assert (
        check_lock(Path("specs/hub.yaml"))[-1]
        == "specs/hub.yaml: not in " + str(lock_file) + " (run `axowrap lock specs/hub.yaml`)"
    )


def test_no_lock_is_an_error_that_says_what_to_run(repo: Path) -> None:
    res = run_cli("run", "specs/local.yaml", "--locked", "--dry-run")
    assert res.code == 1 and "error: no axowrap.lock in" in res.err and "run `axowrap lock`" in res.err


class _ModelInfo(BaseHTTPRequestHandler):
    """The Hub's model-info endpoint (`GET /api/models/{id}/revision/{rev}` -> JSON with `sha`)."""

    def do_GET(self) -> None:  # http.server's name
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/?]+)(\?.*)?", self.path)
        known = m is not None and m.group(1) == "HuggingFaceTB/SmolLM2-135M-Instruct" and m.group(2) == "main"
        body = json.dumps({"id": m.group(1), "sha": COMMIT, "private": False} if known else {"error": "not found"})
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def test_lock_resolves_the_revision_from_the_hub_when_reachable(repo: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelInfo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}"}
    axowrap = str(Path(sys.executable).parent / "axowrap")
    try:
        res = subprocess.run(
            [axowrap, "lock", "specs/hub.yaml"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert res.returncode == 0, res.stderr
        pin = yaml.safe_load((repo / "axowrap.lock").read_text())["specs"]["specs/hub.yaml"]["base_model"]
        assert pin == {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": COMMIT, "source": "hub"}
        spec = repo / "specs" / "hub.yaml"
        spec.write_text(spec.read_text() + "revision: v2\n")  # a ref the Hub does not know, not in the cache
        res = subprocess.run(
            [axowrap, "lock", "specs/hub.yaml"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert res.returncode == 1 and "at 'v2': the Hub did not resolve it" in res.stderr
    finally:
        server.shutdown()
