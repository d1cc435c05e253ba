"""`axowrap validate` warns when the plan says the spec will not fit its target's GPU memory.

Pure arithmetic on the model's shape (local config.json or the built-in table): no data is
read and nothing heavy is imported. A model the plan cannot size is not a validation problem.
"""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.errors import AxowrapError
from axowrap.plan.memory import GB
from axowrap.problems import Problem
from axowrap.spec import Spec
from axowrap.spec_rules import rule


@rule
def plan_fits_target(spec: Spec) -> Iterator[Problem]:
    from axowrap.plan.build import fit_check
    from axowrap.render import spec_target

    if not isinstance(spec.data.get("base_model"), str):
        return  # the schema check reports it
    try:
        target = spec_target(spec)
        if target.is_cpu:
            return
        plan = fit_check(spec, target)
    except AxowrapError:
        return
    if plan.fits:
        return
    fixes = [r for r in plan.recommendations if r.fits][:2]
    tip = "; ".join(f"{r.change} -> {r.estimate.total / GB:.1f} GB" for r in fixes) or "no single change fits: see `axowrap plan`"
    yield spec.problem(
        ("compute", "target"),
        f"the plan estimates {plan.estimate.total / GB:.1f} GB per GPU, more than the {plan.limit / GB:g} GB of {target.name}: it will not fit",
        hint=f"{tip} (axowrap plan {spec.path})",
        severity="warning",
    )
