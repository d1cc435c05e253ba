"""One axowrap process at a time per run directory.

Two `axowrap run` (or `axowrap train|merge|...`) on one run directory would write the same
checkpoints, state.json and outputs. The lock is an flock on `<run>/.lock`: the kernel drops it
when the holder exits, however it exits (SIGKILL included), so a crash never leaves a stale
lock behind. Re-entrant within one process (run_spec holds it across prepare_run and run_steps).

Preparing a run directory alone (`prepare_run`, what each node of a SkyPilot/Slurm job runs
before launching) *waits* for the lock instead: nodes on a shared filesystem prepare the same
directory at the same time, with identical results, and must take turns rather than fail.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axowrap.errors import AxowrapError

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (fd, depth)


class RunBusy(AxowrapError):
    pass


@contextmanager
def run_lock(root: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold `<root>/.lock` for the duration; raise RunBusy naming the holder if another process
    still has it after `wait` seconds."""
    path = (root / ".lock").resolve()
    if path in _held:
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[path]
            _held[path] = (fd, depth - 1)
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if not _acquire(fd, wait):
        holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise RunBusy(
            f"{root}: run directory in use by {holder}",
            hint="wait for that run to finish or stop it (Ctrl-C in its terminal, or `kill PID`); "
            "two runs on one directory would overwrite each other's checkpoints and state",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(
        fd,
        f"pid {os.getpid()} (`{' '.join(['axowrap', *sys.argv[1:]])}`, since "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode(),
        0,
    )
    _held[path] = (fd, 1)
    try:
        yield
    finally:
        fd, depth = _held.pop(path)
        os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor releases the flock


def _acquire(fd: int, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)
