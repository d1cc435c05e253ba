"""`axowrap chat` for real on a trained tiny model: one-shot answers through the adapter, the
merged model and the GGUF; the base model beside it; a missing artifact; an interactive session
driven through a pty (two turns, /compare, Ctrl-C)."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest_audit import copy_run

from axowrap.run.rundir import RunDir

pytestmark = pytest.mark.axolotl

AXOWRAP = str(Path(sys.executable).parent / "axowrap")
QUESTION = "How many rows are in users?"
SCHEMA = "CREATE TABLE users (id integer, name text);"


def chat(run: RunDir, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AXOWRAP, "chat", str(run.root), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )


@pytest.mark.parametrize("model", ["adapter", "merged", "gguf", "gguf:f16"])
def test_a_prompt_is_answered_in_the_training_format_and_ends_by_itself(stop_run: RunDir, model: str) -> None:
    done = chat(stop_run, "--model", model, "--prompt", QUESTION, "--input", SCHEMA, "--max-tokens", "40", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] and doc["format"] == "alpaca"
    assert doc["model"] == {"gguf": "gguf:f16"}.get(model, model)
    # llama.cpp keeps the space SentencePiece puts before the first word; Transformers drops it
    assert doc["answer"].lstrip().startswith("SELECT") and doc["finish_reason"] == "stop", doc
    assert 1 < doc["tokens"] < 40 and doc["first_token_s"] is not None


def test_stdin_streams_the_answer_and_the_base_model_answers_beside_it(stop_run: RunDir) -> None:
    done = chat(stop_run, "--compare", "base", "--input", SCHEMA, stdin=QUESTION + "\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[gguf:f16]" and lines[1].lstrip().startswith("SELECT")
    assert lines[2] == "[base]" and lines[3]
    assert "loading gguf:f16 ..." in done.stderr
    doc = json.loads(chat(stop_run, "--model", "merged", "--compare", "base", "--prompt", QUESTION, "--json").stdout)
    assert doc["compare"]["base"]["model"] == "base" and doc["compare"]["base"]["finish_reason"] in ("stop", "length")


def test_a_missing_artifact_names_the_step_to_run(stop_run: RunDir, tmp_path: Path) -> None:
    run = copy_run(stop_run, tmp_path / "run")
    shutil.rmtree(run.merged)
    done = chat(run, "--model", "merged", "--prompt", "x")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {run.merged}: no merged model in this run",
        f"  hint: run `axowrap merge {run.root}` first",
    ]
    shutil.rmtree(run.gguf)
    done = chat(run, "--model", "gguf", "--prompt", "x")
    assert done.returncode == 1 and done.stderr.splitlines()[0] == f"error: {run.gguf}: no GGUF files in this run"
    assert json.loads(chat(run, "--prompt", QUESTION, "--json").stdout)["model"] == "adapter"  # the best left


class Terminal:
    """`axowrap chat` on a pseudo-terminal: type lines, wait for text (never for a fixed time)."""

    def __init__(self, argv: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty is its controlling terminal
            os.execv(argv[0], argv)
        self.seen = ""
        self.code: int | None = None

    def _read(self, timeout: float) -> bool:
        """Add what the session printed within `timeout` to `seen`; False once it is gone."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the session closed the terminal
            chunk = b""
        self.seen += chunk.decode("utf-8", "replace")
        return bool(chunk)

    def expect(self, text: str, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in {self.seen[-2000:]!r}"
            assert self._read(left), f"the session ended before {text!r}: {self.seen[-2000:]!r}"
        found, self.seen = self.seen.split(text, 1)
        return found

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode("utf-8"))

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                return self.code
            self._read(0.2)  # drain what it prints meanwhile (never a read that blocks)
        raise AssertionError(f"the session did not exit: {self.seen[-2000:]!r}")

    def close(self) -> None:
        """Leave no session behind (a failed test)."""
        if self.code is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminal() -> Iterator[Callable[[list[str]], Terminal]]:
    opened: list[Terminal] = []

    def open_(argv: list[str]) -> Terminal:
        opened.append(Terminal(argv))
        return opened[-1]

    yield open_
    for term in opened:
        term.close()


def test_an_interactive_session_two_turns_compare_and_ctrl_c(
    stop_run: RunDir, terminal: Callable[[list[str]], Terminal]
) -> None:
    term = terminal([AXOWRAP, "chat", str(stop_run.root), "--model", "gguf", "--max-tokens", "40"])
    header = term.expect("you> ")
    assert "in its training format (alpaca)" in header
    term.send(f"/input {SCHEMA}\r")
    term.expect("input field set")
    term.expect("you> ")
    term.send(QUESTION + "\r")
    assert "SELECT" in term.expect("you> ")
    term.send("List every name in users.\r")
    assert "SELECT" in term.expect("you> ")
    term.send("/compare\r")
    term.expect("compare with the base model: on")
    term.expect("you> ")
    term.send(QUESTION + "\r")
    both = term.expect("you> ")
    assert "[gguf:f16]" in both and "[base]" in both
    term.send("\x03")  # Ctrl-C at the prompt: leave
    assert term.wait() == 130
    assert "interrupted" in term.seen and "Traceback" not in term.seen


def test_ctrl_c_at_the_prompt_leaves_whichever_thread_the_kernel_gives_it(
    stop_run: RunDir, terminal: Callable[[list[str]], Terminal]
) -> None:
    """The terminal's SIGINT goes to any thread of the process. One that lands on a thread other
    than the main one (here: sent there with tgkill) must still end the session; before, input()
    stayed blocked in read() and Ctrl-C was lost (seen once as a hung interactive test)."""
    import ctypes

    tgkill = ctypes.CDLL(None, use_errno=True).tgkill  # glibc >= 2.30 (os has no tgkill)
    term = terminal([AXOWRAP, "chat", str(stop_run.root), "--model", "gguf", "--max-tokens", "8"])
    term.expect("you> ")
    term.send(QUESTION + "\r")
    term.expect("you> ")  # a turn has run: the model's threads exist
    others = [int(t) for t in os.listdir(f"/proc/{term.pid}/task") if int(t) != term.pid]
    assert others, "the session has no thread but its main one"
    assert tgkill(term.pid, others[-1], signal.SIGINT) == 0
    assert term.wait() == 130
    assert "interrupted" in term.seen and "Traceback" not in term.seen
