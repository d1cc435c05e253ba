"""The pipeline's steps, in order: the one list the runner, the CLI's step commands and
`status` use. Adding a step: write its module in this package, then list it here."""

from __future__ import annotations

from axowrap.errors import UsageError
from axowrap.steps import audit, gguf, merge, push, train
from axowrap.steps import eval as eval_step
from axowrap.steps.base import Step

STEPS: tuple[Step, ...] = (train.STEP, merge.STEP, gguf.STEP, eval_step.STEP, audit.STEP, push.STEP)
STEP_NAMES = tuple(s.name for s in STEPS)


def get_step(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise UsageError(f"step {name!r}: not a step", hint=f"steps: {', '.join(STEP_NAMES)}")
