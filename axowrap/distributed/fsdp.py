"""FSDP2 settings for Axolotl (`fsdp_version: 2` + `fsdp_config`)."""

from __future__ import annotations

from typing import Any


def fsdp_keys(offload: bool = False, quantized: bool = False) -> dict[str, Any]:
    """The Axolotl keys for FSDP2. Layers to wrap come from the model (`_no_split_modules`),
    so the same config fits any architecture; checkpoints are sharded (fast, resumable) and
    the final save is a full state dict (loadable by merge/GGUF). A 4-bit load (qlora) cannot
    use cpu_ram_efficient_loading under FSDP2: Axolotl refuses it (its rank-0-only quantization
    deadlocks the state dict scatter)."""
    return {
        "fsdp_version": 2,
        "fsdp_config": {
            "offload_params": offload,
            "cpu_ram_efficient_loading": not quantized,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "state_dict_type": "SHARDED_STATE_DICT",
            "final_state_dict_type": "FULL_STATE_DICT",
            "reshard_after_forward": True,
        },
    }
