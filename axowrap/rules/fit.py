"""`axowrap validate` warns when the plan says the spec will not fit its target's GPU memory.

Pure arithmetic on the model's shape (local config.json or the built-in table): no data is
read and nothing heavy is imported. A model the plan cannot size is not a validation problem.
The rule checks the spec's own `compute.target`; `validate --target` calls `fit_problems`
with the target asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.errors import AxowrapError
from axowrap.plan.memory import GB
from axowrap.problems import Problem
from axowrap.spec.model import Spec
from axowrap.targets import Target


def fit_problems(spec: Spec, target: Target) -> list[Problem]:
    """A warning when the plan's estimate is more than `target`'s memory per GPU."""
    from axowrap.plan.build import fit_check

    if target.is_cpu or not isinstance(spec.data.get("base_model"), str):
        return []
    try:
        plan = fit_check(spec, target)
    except AxowrapError:
        return []
    if plan.fits:
        return []
    fixes = [r for r in plan.recommendations if r.fits][:2]
    tip = (
        "; ".join(f"{r.change} -> {r.estimate.total / GB:.1f} GB" for r in fixes)
        or "no single change fits: see `axowrap plan`"
    )
    gpus = target.gpus * target.nodes
    return [
        spec.problem(
            ("compute", "target"),
            f"the plan estimates {plan.estimate.total / GB:.1f} GB per GPU, more than the {plan.limit / GB:g} GB of {target.name}"
            + (f" x{gpus}" if gpus > 1 else "")
            + ": it will not fit",
            hint=f"{tip} (axowrap plan {spec.path} --target {target.name}:{gpus})",
            severity="warning",
        )
    ]


def plan_fits_target(spec: Spec) -> Iterator[Problem]:
    try:
        target = spec.target()
    except AxowrapError:
        return
    yield from fit_problems(spec, target)
