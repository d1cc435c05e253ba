"""Spec rule for the eval gate: every metric in `eval.require` must be one the eval reports."""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.evaluation.gate import reportable
from axowrap.problems import Problem
from axowrap.spec.model import Spec


def require_is_reportable(spec: Spec) -> Iterator[Problem]:
    ev = spec.data.get("eval") or {}
    names = reportable(ev)
    for name in ev.get("require") or {}:
        task = name.split("/", 1)[0]
        if name in names or ("/" in name and task in (ev.get("lm_eval") or [])):
            continue
        yield spec.problem(
            ("eval", "require", name),
            f"the eval does not report {name!r}",
            hint=f"metrics for eval.metric {ev.get('metric', 'exact_match')!r}: {', '.join(sorted(names))}; "
            f"standard tasks as `task/metric` (e.g. arc_easy/acc)",
        )
