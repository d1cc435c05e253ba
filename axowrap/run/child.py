"""Child processes: the only way axowrap starts one, and the one environment every child gets.

`run_child` runs a command in its own process group, tees its output to a log (and to a
callback per line or tqdm refresh), forwards SIGINT/SIGTERM to the whole group, kills the
group after a timeout, and never leaves a process behind when axowrap itself leaves, even
killed with SIGKILL (every child runs under axowrap.run.guard, which kills its group when
axowrap dies). A program that is not installed is a StepFailed saying so.
`run_logged` is the same for a step that only needs success or a `StepFailed` naming the
command, exit code, last log lines and log path. `start_background` starts a server (the
llama.cpp one) whose output goes to a log, and `stop_background` ends it.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from axowrap.errors import StepFailed, StepInterrupted
from axowrap.telemetry import TELEMETRY_OFF

TAIL_LINES = 20
LOG = logging.getLogger("axowrap.child")  # each command started, at INFO (--verbose; cli.style.CHILD_LOGGER)
KILL_AFTER_S = 30.0  # after a forwarded Ctrl-C, the group gets SIGKILL if it has not exited
# Offline-safe and telemetry off, for every child (a spec that enables a tracker adds its own).
BASE_ENV = {
    **TELEMETRY_OFF,
    "WANDB_MODE": "disabled",
    "PYTHONUNBUFFERED": "1",
}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment *changes* every child gets: telemetry off, this venv's bin on PATH
    (Axolotl starts `accelerate` from PATH; prepended only when PATH lacks it, so a PATH the
    user or a job script arranged is kept), plus `extra` (which wins)."""
    env = dict(BASE_ENV)
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        env["PATH"] = f"{bindir}{os.pathsep}{path}"
    return {**env, **(extra or {})}


@dataclass(frozen=True)
class ChildResult:
    code: int
    interrupted: bool  # SIGINT/SIGTERM reached us while it ran (and was forwarded)
    tail: list[str]  # its last non-empty output lines
    timed_out: bool = False


def guarded(argv: Sequence[str]) -> list[str]:
    """`argv` run under axowrap.run.guard: it leads the child's process group and kills the
    group if this process dies (SIGKILL included), so no training outlives its runner."""
    return [sys.executable, "-m", "axowrap.run.guard", str(os.getpid()), "--", *argv]


def still_running(pid: object) -> str | None:
    """`process group N` while the group a step's child led (its recorded pid) has a live
    process; None when it is gone (or `pid` is not a pid)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, OverflowError, OSError) as exc:
        if isinstance(exc, PermissionError):
            return f"process group {pid} (another user's)"
        return None
    return f"process group {pid}"


def _require_program(args: list[str], env: dict[str, str]) -> None:
    """A clear StepFailed when the program to run is not installed (instead of a traceback)."""
    import shutil

    if os.sep in args[0]:
        found = os.access(args[0], os.X_OK) and os.path.isfile(args[0])
    else:
        found = shutil.which(args[0], path=env.get("PATH")) is not None
    if not found:
        raise StepFailed(
            f"cannot start `{args[0]}`: not found" + ("" if os.sep in args[0] else " on PATH"),
            hint="install what the step needs (training: `pip install -e '.[train]'`, which brings "
            "Axolotl and accelerate), or put its folder on PATH",
            argv=args,
        )


def run_child(
    argv: Sequence[str],
    *,
    log: Path | None,
    env: dict[str, str] | None = None,
    on_record: Callable[[str], None] | None = None,
    cwd: Path | None = None,
    on_start: Callable[[int], None] | None = None,
    timeout: float | None = None,
    as_given: bool = False,
) -> ChildResult:
    """Run `argv` in its own process group with `child_env(env)`; its output is appended to
    `log` (or passed to our stdout when `log` is None) and given to `on_record`. `as_given`:
    the environment exactly as we have it plus `env` (a job script's own command line, whose
    PATH the script arranged)."""
    args = [str(a) for a in argv]
    full_env = {**os.environ, **(env or {})} if as_given else {**os.environ, **child_env(env)}
    _require_program(args, full_env)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    interrupted = threading.Event()
    timed_out = threading.Event()
    sink: IO[bytes]
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        sink = log.open("ab")
        sink.write(f"\n===== axowrap {time.strftime('%Y-%m-%dT%H:%M:%S')}: {shlex.join(args)}\n".encode())
        sink.flush()
    else:
        sink = sys.stdout.buffer
    LOG.info("%s", shlex.join(args))
    try:
        proc = subprocess.Popen(
            guarded(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
        if on_start:
            on_start(proc.pid)
        timers: list[threading.Timer] = []

        def forward(signum: int, _frame: Any) -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL if interrupted.is_set() else signum)
            except ProcessLookupError:
                pass
            if not interrupted.is_set():
                interrupted.set()
                timers.append(_timer(KILL_AFTER_S, lambda: _kill_group(proc.pid)))

        def expire() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        if timeout is not None:
            timers.append(_timer(timeout, expire))
        in_main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
        try:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            pending = ""
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            while chunk := os.read(fd, 65536):
                sink.write(chunk)
                sink.flush()
                pending += decoder.decode(chunk)
                *records, pending = _split(pending)
                for rec in records:
                    _take(rec, tail, on_record)
            if pending:
                _take(pending, tail, on_record)
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for timer in timers:
                timer.cancel()
            if proc.poll() is None:  # we are leaving abnormally: leave no training behind
                _kill_group(proc.pid)
                proc.wait()
    finally:
        if log is not None:
            sink.close()
    return ChildResult(code, interrupted.is_set(), list(tail), timed_out.is_set())


def run_logged(
    step: str,
    argv: Sequence[str],
    log: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> None:
    """Run `argv` with its output appended to `log`; raise StepFailed/StepInterrupted when it fails."""
    args = [str(a) for a in argv]
    result = run_child(args, env=env, log=log, cwd=cwd, timeout=timeout)
    if result.interrupted:
        raise StepInterrupted(f"step {step} interrupted", hint="rerun the same command to resume")
    if result.timed_out:
        raise step_failed(step, args, f"timeout after {timeout:.0f} s", log, result.tail)
    if result.code != 0:
        raise step_failed(step, args, result.code, log, result.tail)


def step_failed(step: str, argv: list[str], code: int | str, log: Path, tail: list[str]) -> StepFailed:
    """The error for a failed child process: step, command, exit code, log tail, log path."""
    shown = "\n    ".join(tail) if tail else "(no output)"
    what = f"exit code {code}" if isinstance(code, int) else str(code)
    return StepFailed(
        f"step {step} failed: {what} from `{shlex.join(argv)}`",
        hint=f"last lines of the log:\n    {shown}\n  full log: {log}",
        argv=argv,
        exit_code=code,
        log=str(log),
        tail=tail,
    )


def start_background(
    argv: Sequence[str], log: Path | None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a long-running child (a server) in its own process group with `child_env(env)`;
    its output is appended to `log` (or shown on our terminal when `log` is None)."""
    full_env = {**os.environ, **child_env(env)}
    args = [str(a) for a in argv]
    _require_program(args, full_env)
    LOG.info("%s", shlex.join(args))
    if log is None:
        return subprocess.Popen(guarded(args), stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        return subprocess.Popen(
            guarded(args),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )


def stop_background(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate a background child's group and wait until it has exited; kill it after `grace` s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.wait()


def _timer(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def _split(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def _take(record: str, tail: deque[str], on_record: Callable[[str], None] | None) -> None:
    if record.strip():
        tail.append(record.rstrip())
    if on_record is not None:
        on_record(record)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
