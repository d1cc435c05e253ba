"""`axowrap serve` answers a real /v1/chat/completions request over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from axowrap.errors import AxowrapError
from axowrap.run.rundir import RunDir
from axowrap.serve.server import find_gguf, server_argv

START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, body: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


@pytest.mark.axolotl
@pytest.mark.slow
def test_axowrap_serve_answers_chat_completions(gguf_run: tuple[RunDir, dict[str, Any]], tmp_path: Path) -> None:
    run, _ = gguf_run
    port = free_port()
    axowrap = Path(sys.executable).parent / "axowrap"
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(axowrap), "serve", str(run.root), "--gguf-type", "q4_k_m", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                models = _get(f"{base}/models", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "server did not come up:\n" + (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
        assert models["data"][0]["id"].endswith("-q4_k_m.gguf")
        reply = _get(
            f"{base}/chat/completions",
            {"messages": [{"role": "user", "content": "How many users?"}], "max_tokens": 8, "temperature": 0},
        )
        assert reply["object"] == "chat.completion"
        assert reply["choices"][0]["message"]["role"] == "assistant"
        assert reply["usage"]["completion_tokens"] >= 1
        assert reply["usage"]["prompt_tokens"] > 5  # the chat template was applied
    finally:
        proc.send_signal(signal.SIGTERM)  # axowrap serve stops its server, then exits
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert proc.returncode is not None
    with socket.socket() as s:  # stopped: nothing listens on the port any more (TIME_WAIT is fine)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


def test_server_listens_on_localhost_only() -> None:
    argv = server_argv(Path("/m/x-q8_0.gguf"), 8123)
    assert argv[1:3] == ["-m", "llama_cpp.server"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "8123"


def test_serve_errors_name_what_to_do(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.gguf.mkdir(parents=True)
    with pytest.raises(AxowrapError, match="no GGUF files in this run") as err:
        find_gguf(run, None)
    assert f"axowrap gguf {run.root}" in (err.value.hint or "")
    (run.gguf / "tiny-q8_0.gguf").write_bytes(b"GGUF")
    (run.gguf / "tiny-f16.gguf").write_bytes(b"GGUF")
    assert find_gguf(run, None).name == "tiny-q8_0.gguf"
    with pytest.raises(AxowrapError, match=r"this run has no q4_k_m GGUF \(it has: f16, q8_0\)"):
        find_gguf(run, "q4_k_m")
    with pytest.raises(AxowrapError, match="unknown GGUF type 'q7'"):
        find_gguf(run, "q7")


def test_serve_cli_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    res = run_cli("serve", str(tmp_path), "--port", "8000")
    assert res.code == 2
    assert "not a run directory" in res.err
