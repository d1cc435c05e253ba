"""state.json: what each step of a run did (status, fingerprint, times, outputs, result, error).

    {"version": 1, "steps": {"train": {"status": "done", "fingerprint": "...", "started": "...",
     "ended": "...", "outputs": [...], "result": {...}, "error": null}}}

Statuses: running, done, failed, interrupted. Every change is written atomically, so a crash
at any moment leaves the previous or the next state, never half of one.
"""

from __future__ import annotations

import json
import time
from typing import Any

from axowrap.run.rundir import RunDir
from axowrap.yamlio import atomic_write

VERSION = 1
RUNNING, DONE, FAILED, INTERRUPTED = "running", "done", "failed", "interrupted"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def load_state(run: RunDir) -> dict[str, Any]:
    """The run's state (checked: axowrap.run.records); an empty one when nothing ran yet."""
    from axowrap.run.records import load_state as checked_state

    return checked_state(run)


def save_state(run: RunDir, state: dict[str, Any]) -> None:
    atomic_write(run.state, json.dumps(state, indent=2, sort_keys=True) + "\n")


def update_step(run: RunDir, name: str, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into steps.<name> and write the state; returns the step's entry."""
    state = load_state(run)
    entry = state["steps"].setdefault(name, {})
    entry.update(fields)
    save_state(run, state)
    return entry
