"""Run one child process of an export step through the runner's `run_child` (log tee, signal
forwarding) and turn a failure into the runner's StepFailed (step, argv, exit code, log tail)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from axowrap.launch.command import BASE_ENV


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Env changes for a child: telemetry off, this venv's bin first on PATH, plus `extra`."""
    bindir = str(Path(sys.executable).parent)
    return {**BASE_ENV, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", **(extra or {})}


def run_logged(
    step: str, argv: Sequence[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    """Run `argv` with its output appended to `log`; raise StepFailed/StepInterrupted when it fails."""
    from axowrap.pipeline import StepInterrupted, run_child, step_failed

    args = [str(a) for a in argv]
    code, interrupted, tail = run_child(args, env=child_env(env), log=log, on_record=lambda _r: None, cwd=cwd)
    if interrupted:
        raise StepInterrupted(f"step {step} interrupted", hint="rerun the same command to resume")
    if code != 0:
        raise step_failed(step, args, code, log, tail)
