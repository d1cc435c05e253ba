"""One process per run directory: a second `axowrap run|train|...` on a busy run directory is
refused with the holder named, and a holder killed with SIGKILL leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from axowrap.run.pipeline import prepare_run

HOLD = """
import sys, time
from pathlib import Path
from axowrap.run.runlock import run_lock
with run_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(root: Path, seconds: float = 120) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_busy_run_directory_is_refused_and_freed_when_the_holder_dies(workdir: Path) -> None:
    run = prepare_run(Path("examples/sql.yaml"))
    state_before = run.state.read_bytes() if run.state.exists() else None
    holder = hold(run.root)
    try:
        for argv in (
            ("run", "examples/sql.yaml", "--steps", "train"),
            ("train", str(run.root)),
            ("merge", str(run.root)),
        ):
            res = run_cli(*argv)
            assert res.code == 1, (argv, res.err)
            assert f"{run.root}: run directory in use by pid {holder.pid}" in res.err
            assert "wait for that run to finish or stop it" in res.err
        assert (run.state.read_bytes() if run.state.exists() else None) == state_before  # nothing touched
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # The kernel dropped the flock with the process: no stale lock, the run proceeds.
    res = run_cli("run", "examples/sql.yaml", "--steps", "train", "--dry-run")
    assert res.code == 0, res.err


def test_the_lock_is_reentrant_within_one_process(tmp_path: Path) -> None:
    from axowrap.run.runlock import run_lock

    with run_lock(tmp_path), run_lock(tmp_path):
        assert f"pid {os.getpid()}" in (tmp_path / ".lock").read_text()
    with run_lock(tmp_path):  # released after the outer block: can be taken again
        pass


def test_preparing_alone_waits_its_turn(tmp_path: Path) -> None:
    """Nodes of one job on a shared filesystem prepare the same run directory: they take turns."""
    import time

    from axowrap.run.runlock import RunBusy, run_lock

    holder = hold(tmp_path, seconds=1.5)
    try:
        with pytest.raises(RunBusy):
            with run_lock(tmp_path, wait=0.3):
                pass
        start = time.monotonic()
        with run_lock(tmp_path, wait=30):
            waited = time.monotonic() - start
        assert 0.3 < waited < 30
    finally:
        holder.kill()
        holder.wait()
