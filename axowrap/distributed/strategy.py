"""How a spec's `compute:` section spreads training: processes per node, nodes, strategy.

`axolotl_keys` gives the Axolotl keys the rendered config carries for the strategy;
`support_files` gives the files those keys name (written next to the config, in the run
directory, which is where Axolotl runs). Light module: validate and render import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axowrap.distributed import deepspeed, fsdp

STRATEGIES = ("ddp", "zero1", "zero2", "zero3", "fsdp2")
# Lets gloo DDP run on CPU: Axolotl would place each rank's model on GPU LOCAL_RANK.
CPU_DDP_PLUGIN = "axowrap.distributed.cpu_ddp.CpuDdpPlugin"


@dataclass(frozen=True)
class Layout:
    target: str
    gpus_per_node: int  # processes per node (on CPU: processes)
    nodes: int
    strategy: str
    offload: bool

    @property
    def world_size(self) -> int:
        return self.gpus_per_node * self.nodes

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_cpu(self) -> bool:
        return self.target == "cpu"


def layout(spec_data: dict[str, Any]) -> Layout:
    compute = spec_data["compute"]  # the effective spec always has it (presets/_base.yaml)
    return Layout(
        target=str(compute["target"]),
        gpus_per_node=int(compute["gpus_per_node"]),
        nodes=int(compute["nodes"]),
        strategy=str(compute["strategy"]),
        offload=compute.get("offload") == "cpu",
    )


def axolotl_keys(spec_data: dict[str, Any], target: Any = None) -> dict[str, Any]:
    """The Axolotl keys for the spec's strategy: `deepspeed: <file>` (relative to the run
    directory, where Axolotl runs), `fsdp_version: 2` + `fsdp_config`, or for data-parallel
    training on CPU the plugin that keeps every rank on the CPU. Empty for one process."""
    lay = layout(spec_data)
    if not lay.distributed and lay.strategy == "ddp":
        return {}
    if lay.strategy in deepspeed.STAGES:
        return {"deepspeed": deepspeed.file_name(lay.strategy, lay.offload)}
    if lay.strategy == "fsdp2":
        return fsdp.fsdp_keys(lay.offload, quantized=spec_data.get("method") == "qlora")
    if lay.is_cpu:
        return {"plugins": [CPU_DDP_PLUGIN]}
    return {}


def support_files(spec_data: dict[str, Any]) -> dict[str, str]:
    """{file name: text} of the files the rendered config names (the ZeRO JSON)."""
    lay = layout(spec_data)
    if lay.strategy in deepspeed.STAGES:
        return {deepspeed.file_name(lay.strategy, lay.offload): deepspeed.zero_json(lay.strategy, lay.offload)}
    return {}
