"""Team repos as a new user meets them: `new` extends the team base and writes only what
differs, `--extends`, duplicate names refused, a spec without `task:` says so first, and
schema modelines that resolve to a file on this machine (checked by a real YAML language
server when one is installed)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from conftest import EXAMPLES, REPO, unless_ci, write
from helpers import run_cli

from axowrap.resources import schema_file


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "ft", "--target", "h100-80gb", "--optimizer", "adamw_8bit").code == 0
    monkeypatch.chdir(tmp_path / "ft")
    shutil.copytree(EXAMPLES / "data", tmp_path / "ft" / "specs" / "data")
    return tmp_path / "ft"


def test_new_in_a_team_repo_extends_the_base_and_keeps_its_choices(team: Path) -> None:
    res = run_cli("new", "--task", "sql", "-o", "specs/sql.yaml")
    assert res.code == 0, res.err
    assert res.out.endswith(", extending ../team.yaml: edit it, then `axowrap validate specs/sql.yaml`\n")
    text = (team / "specs" / "sql.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["extends"] == "../team.yaml"
    assert "compute" not in data and "method" not in data  # the team base sets them
    res = run_cli("render", "specs/sql.yaml", "--explain", "compute.target", "--explain", "optimizer")
    assert "set by: base spec team.yaml" in res.out and "compute.target: h100-80gb" in res.out
    assert "optimizer: adamw_8bit" in res.out  # the team's, not the preset's
    # asked for explicitly and different from the base: written
    res = run_cli("new", "--task", "sql", "-o", "specs/cpu.yaml", "--target", "cpu")
    assert yaml.safe_load((team / "specs" / "cpu.yaml").read_text())["compute"] == {"target": "cpu"}
    assert run_cli("validate", "--all").code == 0


def test_new_extends_a_given_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "base.yaml", "training: {epochs: 1, learning_rate: 1.0e-5}\ncompute: {target: cpu}\n")
    res = run_cli("new", "--task", "chat", "--extends", "base.yaml", "-o", "specs/c.yaml")
    assert res.code == 0, res.err
    data = yaml.safe_load((tmp_path / "specs" / "c.yaml").read_text())
    assert data["extends"] == "../base.yaml" and "compute" not in data
    assert data["training"] == {"sequence_len": 2048}  # epochs and learning rate come from the base
    res = run_cli("new", "--task", "chat", "--extends", "nope.yaml", "-o", "x.yaml")
    assert (res.code, res.err.splitlines()[0]) == (2, "error: --extends nope.yaml: no such file")


def test_validate_all_refuses_two_specs_with_one_name(team: Path) -> None:
    assert run_cli("new", "--task", "sql", "-o", "specs/a.yaml").code == 0
    text = (team / "specs" / "a.yaml").read_text()
    write(team / "specs" / "b.yaml", "name: a\n" + text)
    res = run_cli("validate", "--all")
    assert res.code == 1
    assert (
        "specs/b.yaml:1:1: error: name: spec name 'a' is also the name of specs/a.yaml: their run "
        "directories, rendered configs and Hub repos would collide\n    hint: give one of them its own `name:`"
    ) in res.out
    assert run_cli("validate", "specs/a.yaml", "specs/b.yaml").code == 0  # only --all sees the whole repo


def test_a_spec_that_lost_its_task_says_so_first(team: Path) -> None:
    example = (team / "specs" / "example.yaml").read_text()
    write(team / "specs" / "no-task.yaml", example.replace("task: instruct\n", ""))
    res = run_cli("validate", "specs/no-task.yaml")
    assert res.code == 1
    first = res.out.splitlines()[0]
    assert (
        first == "specs/no-task.yaml:3:1: error: (top level): missing `task:` (the task preset this spec starts from)"
    )
    assert "Axolotl" not in res.out  # not read as a raw Axolotl config


def _modeline(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    return first.split("$schema=", 1)[1]


def _resolve(ref: str, yaml_file: Path) -> Path:
    if ref.startswith("file://"):
        return Path(unquote(urlparse(ref).path))
    return (yaml_file.parent / unquote(ref)).resolve()


def test_schema_modelines_resolve_on_this_machine(team: Path, tmp_path: Path) -> None:
    rendered = team / "rendered" / "example.axolotl.yaml"
    assert _modeline(rendered) == "../schemas/axolotl.schema.json"  # the team's copy, the same everywhere
    assert _resolve(_modeline(rendered), rendered) == (team / "schemas" / "axolotl.schema.json").resolve()
    assert run_cli("render", "specs/example.yaml", "-o", "out/x.yaml").code == 0
    assert _modeline(team / "out" / "x.yaml") == "../schemas/axolotl.schema.json"
    os.chdir(tmp_path)  # outside a team repo: the installed package's file
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    assert run_cli("render", "examples/sql.yaml", "-o", "deep/dir/x.yaml").code == 0
    out = tmp_path / "deep" / "dir" / "x.yaml"
    installed = schema_file("axolotl-0.19.0.schema.json").resolve()
    assert _resolve(_modeline(out), out) == installed
    assert _resolve(_modeline(out), out).is_file()
    printed = run_cli("render", "examples/sql.yaml").out  # stdout: no place known, an absolute URI
    assert printed.startswith(f"# yaml-language-server: $schema={installed.as_uri()}\n")
    assert run_cli("schema", "axolotl", "--path").out.strip() == str(installed)


def _language_server() -> Path | None:
    """yaml-language-server (npm): AXOWRAP_YAML_LANGUAGE_SERVER, else the Makefile's install."""
    given = os.environ.get("AXOWRAP_YAML_LANGUAGE_SERVER")
    found = (
        Path(given)
        if given
        else REPO / ".venv" / "node" / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    )
    return found if found.is_file() and shutil.which("node") else None


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _diagnostics(server: Path, document: Path, timeout: float = 90.0) -> list[str]:
    """The diagnostics a real YAML language server publishes for `document` (LSP over stdio)."""
    proc = subprocess.Popen(
        ["node", str(server), "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None and proc.stdout is not None
    inbox: queue.Queue[dict | None] = queue.Queue()

    def read(stream) -> None:  # type: ignore[no-untyped-def]
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                inbox.put(None)
                return
            inbox.put(json.loads(stream.read(length)))

    def send(message: dict) -> None:
        proc.stdin.write(_frame({"jsonrpc": "2.0", **message}))  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    threading.Thread(target=read, args=(proc.stdout,), daemon=True).start()
    uri = document.resolve().as_uri()
    settings = {"yaml": {"validate": True, "schemaStore": {"enable": False}}}
    send({"id": 1, "method": "initialize", "params": {"processId": os.getpid(), "rootUri": None, "capabilities": {}}})
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = inbox.get(timeout=max(0.1, deadline - time.monotonic()))
            if message is None:
                break
            if message.get("id") == 1 and "result" in message:
                send({"method": "initialized", "params": {}})
                send({"method": "workspace/didChangeConfiguration", "params": {"settings": settings}})
                text = document.read_text()
                params = {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}
                send({"method": "textDocument/didOpen", "params": params})
            elif "id" in message and "method" in message:  # a request to us (configuration...)
                items = message.get("params", {}).get("items") or [None]
                send({"id": message["id"], "result": [settings["yaml"] for _ in items]})
            elif message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                if message["params"]["diagnostics"]:
                    return [d["message"] for d in message["params"]["diagnostics"]]
    finally:
        proc.kill()
        proc.wait()
    return []


@unless_ci(_language_server() is None, "yaml-language-server not installed (make install does, with npm)")
def test_a_yaml_language_server_loads_the_modeline_schema(team: Path) -> None:
    server = _language_server()
    assert server is not None
    rendered = team / "rendered" / "example.axolotl.yaml"
    broken = rendered.with_name("broken.axolotl.yaml")
    broken.write_text(rendered.read_text().replace("lora_r: 16", 'lora_r: "sixteen"'))
    messages = _diagnostics(server, broken)
    assert any("Incorrect type" in m for m in messages), messages  # the schema was loaded and applied
    assert not any("Unable to load schema" in m for m in messages), messages
    # the control: the address rendered configs used to name serves nothing
    old = broken.read_text().replace("../schemas/axolotl.schema.json", "https://axowrap.dev/schemas/axolotl.json", 1)
    broken.write_text(old)
    assert any("Unable to load schema" in m for m in _diagnostics(server, broken))
