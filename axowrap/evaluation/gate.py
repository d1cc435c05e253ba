"""The eval gate (`eval.require`): minimum values for metrics of the fine-tuned model.

Below a bar the eval step fails, so the runner stops and push never runs. For metrics where
lower is better (perplexity) the bar is a maximum. Also a spec rule: a required metric must be
one the eval can report (axowrap.rules.gate). Light module (imported by `validate`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.evaluation.metrics import lower_is_better, reported


def reportable(ev: dict[str, Any]) -> set[str]:
    """The metric names an eval with these settings reports (standard tasks: `task/metric`)."""
    names = set(reported(ev))
    if ev.get("judge"):
        names.add("judge_score")
    return names


def check_gate(require: dict[str, float], metrics: dict[str, dict[str, Any]]) -> list[str]:
    """One line per unmet requirement (empty when the gate passes)."""
    failures = []
    for name, bar in sorted(require.items()):
        entry = metrics.get(name)
        tuned = entry.get("tuned") if entry else None
        if tuned is None:
            known = ", ".join(sorted(metrics)) or "none"
            failures.append(f"{name}: not measured (measured: {known})")
        elif lower_is_better(name) and tuned > bar:
            failures.append(f"{name} = {tuned:.4g}, above the allowed maximum {bar:g}")
        elif not lower_is_better(name) and tuned < bar:
            failures.append(f"{name} = {tuned:.4g}, below the required {bar:g}")
    return failures


def gate_failures(results_json: Path) -> list[str] | None:
    """The recorded gate failures of a run's eval/results.json ([] passed, None: no eval yet).

    For steps after eval (push): refuse when this is a non-empty list."""
    try:
        results = json.loads(results_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise AxowrapError(f"{results_json}: cannot read: {exc}", hint="rerun the eval step") from None
    return list((results.get("gate") or {}).get("failures") or [])
