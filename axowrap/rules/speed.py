"""`validate`: speed switches the spec turns on that its target, method or model cannot run,
and the two loss switches together (Axolotl refuses them). Defaults that cannot run are not
problems: rendering turns them off with a note."""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.spec.model import Spec
from axowrap.targets import Target


def speed_problems(spec: Spec, target: Target) -> list[Problem]:
    from axowrap.config.speed import resolve

    return [spec.problem(path, message, hint=hint) for path, message, hint in resolve(spec, target).conflicts]


def speed_fits_target(spec: Spec) -> Iterator[Problem]:
    try:
        target = spec.target()
    except AxowrapError:
        return  # an unknown target is reported by targets.target_is_known
    yield from speed_problems(spec, target)
