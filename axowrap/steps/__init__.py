"""Pipeline steps. Each step is a module here exposing `STEP`, a `Step`; the runner
(`axowrap.pipeline`) knows only this interface, so a new step never touches the runner.

A step is skipped when it is done, its fingerprint (its `params` + its upstream steps'
fingerprints) is unchanged and its `outputs` exist.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.rundir import RunDir

# Pipeline order; a step's upstreams are listed in its `needs`.
STEP_NAMES = ("train", "merge", "gguf", "eval", "push")


@dataclass
class StepContext:
    """What a step gets: the run directory, the effective spec, the rendered Axolotl config."""

    run: RunDir
    spec: dict[str, Any]  # the effective spec (presets + extends applied)
    config: dict[str, Any]  # the rendered Axolotl config (as in run.config)
    log: Path  # this step's log file (logs/<step>.log)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for child processes
    echo: Callable[[str], None] = print  # progress lines for the user (the runner decides where)
    json_events: bool = False  # --json: the runner wants machine-readable events
    state: dict[str, Any] = field(default_factory=dict)  # results of earlier steps (state.json "steps")
    dry_run: bool = False  # say what would be done, do nothing
    options: dict[str, Any] = field(default_factory=dict)  # step-specific CLI options (e.g. eval --model)


@dataclass(frozen=True)
class Step:
    name: str
    needs: tuple[str, ...]
    enabled: Callable[[StepContext], bool]  # does the spec ask for this step?
    params: Callable[[StepContext], dict[str, Any]]  # what the fingerprint covers (JSON-able)
    outputs: Callable[[StepContext], list[Path]]  # must all exist for the step to count as done
    run: Callable[[StepContext], dict[str, Any]]  # does the work; returns results for state.json


def get_step(name: str) -> Step:
    module = importlib.import_module(f"axowrap.steps.{name}")
    return module.STEP


def available_steps() -> list[Step]:
    """The steps whose modules exist, in pipeline order."""
    out = []
    for name in STEP_NAMES:
        try:
            out.append(get_step(name))
        except ModuleNotFoundError as exc:
            if exc.name != f"axowrap.steps.{name}":
                raise
    return out
