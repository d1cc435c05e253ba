"""The guard between axowrap and every child process: the child dies with axowrap.

    python -m axowrap.run.guard PARENT_PID -- CMD ARGS...

A training is a tree of processes (accelerate, then the trainer, then its data workers) in
a process group of its own, so that Ctrl-C reaches all of it. A group of its own also means
it would outlive axowrap killed by SIGKILL (or the OOM killer) and go on writing checkpoints
that a second `axowrap run` then writes too. The guard leads that group: it asks Linux to
signal it when its parent dies (prctl PR_SET_PDEATHSIG), and then kills the whole group,
itself included. Otherwise it only runs CMD and ends as CMD ends (same exit code, or the same
signal). Signals the runner forwards to the group reach CMD directly; the guard waits them out.

Standard library only: it starts in milliseconds and imports nothing of axowrap's.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1
PARENT_DIED = signal.SIGUSR1


def _kill_group(_signum: int = 0, _frame: object = None) -> None:
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _watch_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(PARENT_DIED), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the runner's pid check on resume remains
        return
    signal.signal(PARENT_DIED, _kill_group)
    if os.getppid() != parent:  # the parent died before prctl took effect
        _kill_group()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: python -m axowrap.run.guard PARENT_PID -- CMD ARGS...\n")
        return 2
    _watch_parent(int(argv[0]))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)  # the group got it too: CMD decides, the guard waits
    try:
        proc = subprocess.Popen(argv[2:])
    except OSError as exc:
        sys.stderr.write(f"axowrap: cannot start {argv[2]}: {exc.strerror or exc}\n")
        return 127
    code = proc.wait()
    if code < 0:  # end the same way CMD ended
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
