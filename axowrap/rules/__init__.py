"""The rule registry: every feature rule `validate` runs on a loaded spec, in one tuple.

A rule is a plain function `(Spec) -> Iterator[Problem]` in a module of this package, named
for the feature it checks; it imports the spec model, problems and its own feature's light
modules, never this registry, the validator, the pipeline or the CLI. Adding a rule: write
the function in its module, then list it here (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from axowrap.problems import Problem
from axowrap.rules import axolotl, compute, core, data, fit, gate, gguf, hub, speed, targets, tracking
from axowrap.spec.model import Spec

Rule = Callable[[Spec], Iterator[Problem]]

RULES: tuple[Rule, ...] = (
    core.datasets_exist,
    core.format_fits_task,
    core.classify_labels,
    core.method_fits_target,
    core.packing_fits_task,
    core.eval_choices,
    core.export_needs_merge,
    axolotl.preference_mapping,
    targets.target_is_known,
    targets.team_targets_are_valid,
    speed.speed_fits_target,
    compute.compute_strategy,
    compute.sharding_has_peers,
    compute.gpus_per_node_fits_a_node,
    data.dataset_rows,
    data.mixture_kinds,
    fit.plan_fits_target,
    gate.require_is_reportable,
    hub.hub_repos_have_artifacts,
    gguf.gguf_preflight,
    tracking.trackers_installed,
    tracking.mlflow_uri,
    tracking.wandb_login,
)
RULE_NAMES = tuple(r.__name__ for r in RULES)


def check_rules(spec: Spec, skip: Iterable[str] = ()) -> list[Problem]:
    """Every problem the rules find in `spec`, but those of the rules named in `skip`."""
    skipped = set(skip)
    return [p for fn in RULES if fn.__name__ not in skipped for p in fn(spec)]
