"""`axowrap serve`: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 for one of the
run's GGUF files, in the foreground (Ctrl-C stops it)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from axowrap.errors import AxowrapError
from axowrap.gguf import check_type
from axowrap.rundir import RunDir

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
        raise AxowrapError(f"this run has no {key} GGUF (it has: {', '.join(files)})",
                           hint=f"add {key} to `export.gguf` in the spec and run `axowrap gguf {run.root}`")
    return files[key]


def server_argv(gguf: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", HOST, "--port", str(port)]


def serve(run_path: Path, gguf_type: str | None, port: int, echo: Callable[[str], None]) -> int:
    """Run the server until it exits or Ctrl-C; returns its exit code."""
    from axowrap.pipeline import open_run

    gguf = find_gguf(open_run(run_path), gguf_type)
    echo(f"serving {gguf} on http://{HOST}:{port}/v1 (OpenAI API; Ctrl-C stops)")
    proc = subprocess.Popen(server_argv(gguf, port), stdin=subprocess.DEVNULL)
    # SIGTERM to us stops the server too, and we return only once it has exited (port freed).
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
