"""The speed switches: Axolotl integrations that make GPU training faster or leaner, and what
each one needs. A target's `speed:` list in targets.yaml says which are on by default there;
a spec's `speed:` section turns one off (or on, where the target can run it).

Which model types each integration supports is not typed here: it is read from the installed
packages into schemas/axolotl-<version>.speed.json (`python -m axowrap.config.speedgen`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from axowrap.resources import schema_file

LIGER_PLUGIN = "axolotl.integrations.liger.LigerPlugin"
CCE_PLUGIN = "axolotl.integrations.cut_cross_entropy.CutCrossEntropyPlugin"
CCE_INSTALL = (
    'pip install "cut-cross-entropy[transformers] @ '
    'git+https://github.com/axolotl-ai-cloud/ml-cross-entropy.git@4dfa522"'
)


@dataclass(frozen=True)
class Switch:
    """One switch: what it turns on, what the GPU and the install must offer."""

    name: str
    summary: str
    min_sm: int | None = None  # lowest CUDA compute capability (80 = sm_80); None: any GPU
    cuda_only: bool = False  # needs an NVIDIA GPU (not ROCm)
    half: bool = False  # needs bf16 or fp16 training
    packages: tuple[str, ...] = ()  # one of these distributions must be in the target's install
    models: str | None = None  # the support list (speed.json) that must hold the model type
    adapter: bool = False  # LoRA/QLoRA only
    install_hint: str = ""


SWITCHES: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch(
            "flash_attention",
            "FlashAttention (version 2, or 3 where the target's `attention` says so) instead of PyTorch SDPA",
            min_sm=80,
            cuda_only=True,
            half=True,
            # Axolotl 0.19 accepts the flash-attn package or the prebuilt kernel from the Hub's
            # kernels-community (the `kernels` package Axolotl depends on fetches it at run time).
            packages=("flash-attn", "flash-attn-3", "kernels"),
        ),
        Switch(
            "lora_kernels",
            "Axolotl's fused Triton LoRA kernels for the MLP, QKV and O projections",
            cuda_only=True,
            packages=("triton",),
            adapter=True,
            models="lora_kernels",
        ),
        Switch(
            "liger",
            "Liger's Triton kernels for RoPE, RMSNorm and the GLU activation",
            packages=("liger-kernel",),
            models="liger",
        ),
        Switch(
            "fused_cross_entropy",
            "Liger's fused linear cross-entropy: the loss is computed in chunks, full logits never exist",
            packages=("liger-kernel",),
            models="liger",
        ),
        Switch(
            "cut_cross_entropy",
            "Apple's cut cross-entropy (an alternative to fused_cross_entropy; needs Axolotl's fork of the package)",
            cuda_only=True,
            half=True,
            packages=("cut-cross-entropy",),
            models="cut_cross_entropy",
            install_hint=CCE_INSTALL,
        ),
        Switch("compile", "torch.compile of the model (minutes of compiling first)", cuda_only=True),
    )
}
# The two loss switches replace the same computation: Axolotl refuses both at once.
LOSS_SWITCHES = ("fused_cross_entropy", "cut_cross_entropy")


def sm_number(compute_capability: str | None) -> int | None:
    """`sm_90` -> 90; ROCm (`gfx942`) and None -> None."""
    if compute_capability and compute_capability.startswith("sm_") and compute_capability[3:].isdigit():
        return int(compute_capability[3:])
    return None


def unmet_need(switch: Switch, compute_capability: str | None, half: bool, gpu: bool) -> str | None:
    """Why a GPU with these capabilities cannot run `switch` (None when it can)."""
    sm = sm_number(compute_capability)
    if not gpu:
        return "it needs a GPU"
    if switch.cuda_only and sm is None:
        return f"it needs an NVIDIA (CUDA) GPU, not {compute_capability or 'an unknown GPU'}"
    if switch.min_sm and (sm is None or sm < switch.min_sm):
        return f"it needs compute capability sm_{switch.min_sm} or newer, not {compute_capability}"
    if switch.half and not half:
        return "it needs bf16 or fp16 training"
    return None


def support() -> dict[str, Any]:
    """The model-type lists read from the chosen release's integrations
    (schemas/axolotl-<version>.speed.json, written by `python -m axowrap.config.speedgen`)."""
    from axowrap.releases import choose

    return _support(choose().version)


@cache
def _support(version: str) -> dict[str, Any]:
    return json.loads(schema_file(f"axolotl-{version}.speed.json").read_text(encoding="utf-8"))


def model_unsupported(switch: Switch, model_type: str | None) -> str | None:
    """Why `switch` is off for `model_type` (None: supported, or the type is unknown)."""
    if switch.models is None or not model_type:
        return None
    table = support()
    blocked = table["unsupported"].get(switch.models, {})
    if model_type in blocked:
        return f"Axolotl marks {switch.name} unsupported for model type {model_type!r}: {blocked[model_type]}"
    allowed = table["supported"].get(switch.models)
    if allowed is not None and model_type not in allowed:
        source = table["sources"].get(switch.models, "the integration")
        return f"{source} has no {switch.name.replace('_', ' ')} support for model type {model_type!r}"
    return None
