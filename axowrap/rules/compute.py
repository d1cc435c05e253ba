"""Spec-time checks of `compute:` for multi-process training (light: validate imports it)."""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.distributed.strategy import layout
from axowrap.problems import Problem
from axowrap.spec.model import Spec

MAX_GPUS_PER_NODE = 8


def compute_strategy(spec: Spec) -> Iterator[Problem]:
    compute = spec.data.get("compute") or {}
    total = compute["gpus_per_node"] * compute["nodes"]
    strategy = compute["strategy"]
    if compute.get("target") == "cpu" and total > 1 and strategy != "ddp":
        yield spec.problem(("compute", "strategy"), f"{strategy} needs GPUs; on CPU only ddp runs")
    if compute.get("offload") == "cpu" and strategy not in ("zero3", "fsdp2"):
        yield spec.problem(("compute", "offload"), f"CPU offload needs strategy zero3 or fsdp2, not {strategy!r}")


def sharding_has_peers(spec: Spec) -> Iterator[Problem]:
    lay = layout(spec.data)
    if lay.strategy in ("zero2", "zero3", "fsdp2", "zero1") and lay.world_size == 1 and not lay.offload:
        yield spec.problem(
            ("compute", "strategy"),
            f"{lay.strategy} on one GPU has nothing to shard over and only adds overhead",
            hint="use `strategy: ddp`, add `offload: cpu` (zero3/fsdp2) to fit a bigger model, or raise gpus_per_node",
            severity="warning",
        )


def gpus_per_node_fits_a_node(spec: Spec) -> Iterator[Problem]:
    lay = layout(spec.data)
    if not lay.is_cpu and lay.gpus_per_node > MAX_GPUS_PER_NODE:
        yield spec.problem(
            ("compute", "gpus_per_node"),
            f"{lay.gpus_per_node} GPUs per node: most {lay.target} machines have at most {MAX_GPUS_PER_NODE}",
            hint=f"spread them: e.g. gpus_per_node: {MAX_GPUS_PER_NODE}, nodes: {-(-lay.gpus_per_node // MAX_GPUS_PER_NODE)}",
            severity="warning",
        )
