"""DeepSpeed ZeRO configs (stages 1/2/3, optional CPU offload) as Axolotl and HF Trainer read them.

Batch sizes, precision and clipping are "auto": the HF Trainer fills them from the Axolotl
config, so the JSON never disagrees with `micro_batch_size` or `bf16`.
"""

from __future__ import annotations

import json
from typing import Any

STAGES = {"zero1": 1, "zero2": 2, "zero3": 3}


def file_name(strategy: str, offload: bool) -> str:
    """`deepspeed-zero3-offload.json`: the stage stays in the name (Axolotl looks for "zero3" in it)."""
    return f"deepspeed-{strategy}{'-offload' if offload else ''}.json"


def zero_config(strategy: str, offload: bool = False) -> dict[str, Any]:
    stage = STAGES[strategy]
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True}
    if stage >= 2:
        zero.update(reduce_bucket_size="auto", allgather_bucket_size=5e8 if stage == 2 else None)
        if stage == 2:
            zero["allgather_partitions"] = True
            zero["reduce_scatter"] = True
    if stage == 3:
        zero.update(
            sub_group_size=0,
            stage3_prefetch_bucket_size="auto",
            stage3_param_persistence_threshold="auto",
            stage3_max_live_parameters=0,
            stage3_max_reuse_distance=0,
            stage3_gather_16bit_weights_on_model_save=True,  # a loadable final model
        )
    if offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    zero = {k: v for k, v in zero.items() if v is not None}
    return {
        "zero_optimization": zero,
        "bf16": {"enabled": "auto"},
        "fp16": {
            "enabled": "auto",
            "auto_cast": False,
            "loss_scale": 0,
            "initial_scale_power": 32,
            "loss_scale_window": 1000,
            "hysteresis": 2,
            "min_loss_scale": 1,
        },
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "wall_clock_breakdown": False,
    }


def zero_json(strategy: str, offload: bool = False) -> str:
    """The file text: sorted keys, deterministic."""
    return json.dumps(zero_config(strategy, offload), indent=2, sort_keys=True) + "\n"
