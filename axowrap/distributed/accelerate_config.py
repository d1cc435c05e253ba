"""The accelerate config file of a multi-process launch (one file for every node).

The per-node values (`--machine_rank`, `--main_process_ip`) go on the command line, so
every node reads the same file from a shared run directory. Axolotl itself turns on
DeepSpeed / FSDP from its own config keys (as its launcher does), so the accelerate config
stays MULTI_GPU for every strategy.
"""

from __future__ import annotations

from typing import Any

import yaml

from axowrap.distributed.strategy import Layout

FILE_NAME = "accelerate.yaml"
DEFAULT_PORT = 29500


def accelerate_config(lay: Layout, main_ip: str = "127.0.0.1", main_port: int = DEFAULT_PORT) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU",
        "num_machines": lay.nodes,
        "num_processes": lay.world_size,  # total, over all nodes (accelerate's meaning)
        "machine_rank": 0,
        "main_process_ip": main_ip,
        "main_process_port": main_port,
        "rdzv_backend": "static",
        "same_network": True,
        "main_training_function": "main",
        "mixed_precision": "no",  # Axolotl's bf16/fp16 keys decide
        "dynamo_config": {},
        "use_cpu": False,  # CPU DDP: ACCELERATE_USE_CPU in the environment
        "gpu_ids": "all",
        "downcast_bf16": "no",
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
    }
    return cfg


def accelerate_yaml(lay: Layout, main_ip: str = "127.0.0.1", main_port: int = DEFAULT_PORT) -> str:
    return yaml.safe_dump(accelerate_config(lay, main_ip, main_port), sort_keys=True)
