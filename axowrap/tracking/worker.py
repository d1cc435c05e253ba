"""MLflow's client work in a process of its own, so that `import mlflow` (~0.6-0.9 s of CPU:
MLflow 3 imports its tracing and gateway packages) is not paid on the runner's critical path.

The train step starts the worker before its Axolotl preflight, which keeps the runner busy on
one core for seconds: the worker imports mlflow on the other core meanwhile, then creates the
tracker run when asked, backfills a resumed run's metrics and, at the end of the pipeline,
logs the run's files and results. It runs the same functions as the runner would (runs.py's
`_mlflow_run`, `backfill_mlflow`, `_finish_mlflow`), so the worker decides nothing of its own.

Protocol: one JSON request per line on stdin, `{"call": name, "args": [...]}`; one JSON answer
per line on stdout, `{"ok": result}`, `{"error": message, "hint": hint}` (an AxowrapError) or
`{"failed": message}` (anything else). The worker ends at EOF on stdin. A worker that cannot be
started, or dies, is never an error: the caller runs the function itself. This module is the
runner's side; worker_process.py is the process.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.telemetry import TELEMETRY_OFF


class Worker:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-m", "axowrap.tracking.worker_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **TELEMETRY_OFF},  # read by its `import mlflow`
        )

    def call(self, name: str, *args: Any) -> tuple[bool, Any]:
        """(True, result) from the worker; (False, None) when it is gone (the caller runs it)."""
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            return False, None
        try:
            proc.stdin.write(json.dumps({"call": name, "args": args}) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.close()
            return False, None
        answer = json.loads(line)
        if "error" in answer:
            raise AxowrapError(answer["error"], hint=answer.get("hint"))
        if "failed" in answer:
            raise RuntimeError(answer["failed"])
        return True, answer.get("ok")

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()


_worker: Worker | None = None


def warm() -> None:
    """Start the worker now (idempotent) so that mlflow is imported by the time it is needed."""
    global _worker
    if _worker is None or _worker.proc is None:
        try:
            _worker = Worker()
        except OSError:
            _worker = None


def call(name: str, *args: Any) -> tuple[bool, Any]:
    """Run runs.<name>(*args) in the warm worker: (False, None) when there is none."""
    if _worker is None:
        return False, None
    return _worker.call(name, *args)


@atexit.register
def close() -> None:
    global _worker
    worker, _worker = _worker, None
    if worker is not None:
        worker.close()
