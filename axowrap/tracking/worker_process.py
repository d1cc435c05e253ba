"""The tracking worker's process (worker.py starts it and speaks its protocol): imports mlflow
at once, then answers one JSON request per line with runs.py's own functions until EOF.

    python -m axowrap.tracking.worker_process
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from axowrap.errors import AxowrapError

CALLS = ("_mlflow_run", "backfill_mlflow", "_finish_mlflow")


def main() -> None:
    import mlflow  # noqa: F401  (the point of this process: imported while the runner works)

    from axowrap.tracking import runs

    for line in sys.stdin:
        request = json.loads(line)
        name = request["call"]
        try:
            if name not in CALLS:
                raise ValueError(f"unknown call {name!r}")
            answer: dict[str, Any] = {"ok": getattr(runs, name)(*request["args"])}
        except AxowrapError as exc:
            answer = {"error": exc.message, "hint": exc.hint}
        except Exception as exc:  # the caller reports it as it would its own
            answer = {"failed": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    # Every call above was synchronous and answered: nothing is pending. Python's own teardown of
    # a process holding mlflow takes ~0.5 s, which the runner would wait for at its end.
    os._exit(0)


if __name__ == "__main__":
    main()
