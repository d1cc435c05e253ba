"""What a pipeline step is: a `Step` (name, upstreams, and four functions) run with a
`StepContext`. The runner (axowrap.run.pipeline) knows only this interface; the steps it runs
are listed in axowrap.steps.registry.

A step is skipped when it is done, its fingerprint (its `params` + its upstream steps'
fingerprints and the hashes of their recorded outputs) is unchanged and its `outputs` are as
recorded when it finished (axowrap.run.outputs). `outputs` lists files or folders (a folder
stands for every file under it); they are checked, fsynced and hashed before the step counts
as done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.run.events import Events
from axowrap.run.rundir import RunDir


@dataclass
class StepContext:
    """What a step gets: the run directory, the effective spec, the rendered Axolotl config."""

    name: str  # the step's name
    run: RunDir
    spec: dict[str, Any]  # the effective spec (presets + extends applied)
    config: dict[str, Any]  # the rendered Axolotl config (as in run.config)
    log: Path  # this step's log file (logs/<step>.log)
    events: Events = field(default_factory=Events)  # where progress goes (the runner decides: lines or JSON)
    state: dict[str, Any] = field(default_factory=dict)  # results of earlier steps (state.json "steps")
    dry_run: bool = False  # say what would be done, do nothing
    options: dict[str, Any] = field(default_factory=dict)  # step-specific CLI options (e.g. eval --model)
    fingerprints: dict[str, str] = field(default_factory=dict)  # every step's current fingerprint (runner)

    def current(self, step: str) -> bool:
        """Whether `step` is done for the current spec and inputs (its recorded outputs aside)."""
        entry = self.state.get(step) or {}
        return entry.get("status") == "done" and entry.get("fingerprint") == self.fingerprints.get(step)

    def say(self, line: str, /, **fields: Any) -> None:
        """Report progress: a plain line for people, an `info` event with --json."""
        self.events.info(self.name, line, **fields)


@dataclass(frozen=True)
class Step:
    name: str
    needs: tuple[str, ...]
    enabled: Callable[[StepContext], bool]  # does the spec ask for this step?
    params: Callable[[StepContext], dict[str, Any]]  # what the fingerprint covers (JSON-able)
    outputs: Callable[[StepContext], list[Path]]  # must all exist for the step to count as done
    run: Callable[[StepContext], dict[str, Any]]  # does the work; returns results for state.json
