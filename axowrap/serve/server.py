"""`axowrap serve`: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 for one of the
run's GGUF files, in the foreground (Ctrl-C stops it); `running()` starts one in the background
for as long as a `with` block needs it (the eval step scores a GGUF through it)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from axowrap.errors import AxowrapError
from axowrap.gguf_types import check_type
from axowrap.run.child import start_background, stop_background
from axowrap.run.rundir import RunDir

HOST = "127.0.0.1"


def available(run: RunDir) -> dict[str, Path]:
    """type -> GGUF file, for the files the run's gguf step wrote (`<name>-<type>.gguf`)."""
    out = {}
    for path in sorted(run.gguf.glob("*.gguf")):
        out[path.stem.rsplit("-", 1)[-1]] = path
    return out


def find_gguf(run: RunDir, gguf_type: str | None) -> Path:
    from axowrap.serve import choose

    files = available(run)
    if not files:
        raise AxowrapError(f"{run.gguf}: no GGUF files in this run", hint=f"make them first: `axowrap gguf {run.root}`")
    if gguf_type is None:
        return files[choose(list(files))]
    key = check_type(gguf_type)
    if key not in files:
        raise AxowrapError(
            f"this run has no {key} GGUF (it has: {', '.join(files)})",
            hint=f"add {key} to `export.gguf` in the spec and run `axowrap gguf {run.root}`",
        )
    return files[key]


SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def require_server() -> None:
    """AxowrapError unless llama-cpp-python and its [server] extra are installed (checked
    without importing them: loading llama.cpp takes a while)."""
    import importlib.util

    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise AxowrapError(
            f"llama.cpp's server is not installed (missing: {', '.join(missing)})",
            hint="pip install 'axowrap[gguf]' (it brings llama-cpp-python[server])",
        )


def server_argv(gguf: Path, port: int, n_ctx: int | None = None) -> list[str]:
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", HOST, "--port", str(port)]
    return argv + (["--n_ctx", str(n_ctx)] if n_ctx else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(gguf: Path, log: Path, *, n_ctx: int | None = None, start_timeout: float = 180.0) -> Iterator[str]:
    """A llama-cpp-python server for `gguf` on a free local port while the block runs; yields
    its base URL (`http://127.0.0.1:PORT/v1`). Its output is appended to `log`; if it exits
    before answering, the error says so with the end of that log."""
    require_server()
    port = free_port()
    proc = start_background(server_argv(gguf, port, n_ctx), log)
    url = f"http://{HOST}:{port}/v1"
    try:
        _wait_ready(proc, gguf, url, log, start_timeout)
        yield url
    finally:
        stop_background(proc)  # returns once it has exited: the port is free again


def _wait_ready(proc: subprocess.Popen[bytes], gguf: Path, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-10:]
            raise AxowrapError(
                f"the llama.cpp server for {gguf} exited with code {proc.returncode} before answering"
                + "".join(f"\n    {line}" for line in tail),
                hint=f"see {log}; check the GGUF loads with `axowrap serve`",
            )
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AxowrapError(f"the llama.cpp server at {url} did not answer within {timeout:.0f} s", hint=f"see {log}")


def serve(run_path: Path, gguf_type: str | None, port: int, echo: Callable[[str], None]) -> int:
    """Run the server until it exits or Ctrl-C; returns its exit code."""
    from axowrap.run.rundir import open_run

    gguf = find_gguf(open_run(run_path), gguf_type)
    require_server()
    echo(f"serving {gguf} on http://{HOST}:{port}/v1 (OpenAI API; Ctrl-C stops)")
    proc = start_background(server_argv(gguf, port), None)  # its output on our terminal
    # SIGTERM to us stops the server too, and we return only once it has exited (port freed).
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: stop_background(proc))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop_background(proc)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
