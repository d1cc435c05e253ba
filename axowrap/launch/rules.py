"""Spec-time checks of `compute:` for multi-process training (light: validate imports it)."""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.launch.distributed import layout
from axowrap.problems import Problem
from axowrap.spec import Spec
from axowrap.spec_rules import rule

MAX_GPUS_PER_NODE = 8


@rule
def sharding_has_peers(spec: Spec) -> Iterator[Problem]:
    lay = layout(spec.data)
    if lay.strategy in ("zero2", "zero3", "fsdp2", "zero1") and lay.world_size == 1 and not lay.offload:
        yield spec.problem(
            ("compute", "strategy"),
            f"{lay.strategy} on one GPU has nothing to shard over and only adds overhead",
            hint="use `strategy: ddp`, add `offload: cpu` (zero3/fsdp2) to fit a bigger model, or raise gpus_per_node",
            severity="warning",
        )


@rule
def gpus_per_node_fits_a_node(spec: Spec) -> Iterator[Problem]:
    lay = layout(spec.data)
    if not lay.is_cpu and lay.gpus_per_node > MAX_GPUS_PER_NODE:
        yield spec.problem(
            ("compute", "gpus_per_node"),
            f"{lay.gpus_per_node} GPUs per node: most {lay.target} machines have at most {MAX_GPUS_PER_NODE}",
            hint=f"spread them: e.g. gpus_per_node: {MAX_GPUS_PER_NODE}, nodes: {-(-lay.gpus_per_node // MAX_GPUS_PER_NODE)}",
            severity="warning",
        )
