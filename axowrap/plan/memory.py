"""GPU memory per device for one training setup, by component (bytes; see README "How the
plan estimates memory" for the formula and its calibration against published figures)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from axowrap.plan.families import Dims

GB = 1e9
OVERHEAD = 1.5 * GB  # CUDA context + allocator fragmentation (anchors: 1-2 GB)
QUANT_BYTES = {4: 0.55, 8: 1.06}  # bytes per weight of quantized linear layers (NF4 / int8 + constants)
LOGIT_BYTES = 8  # per token per vocab entry: fp32 logits + their gradient
MIXED_MASTER = 4  # fp32 master copy per trainable 16-bit weight (mixed precision)
# Optimizer state bytes per trainable parameter (moments only; a master copy is separate).
OPTIMIZER_BYTES = {
    "adamw_torch": 8,
    "adamw_torch_fused": 8,
    "paged_adamw_32bit": 8,
    "adamw_hf": 8,
    "adamw_8bit": 2,
    "paged_adamw_8bit": 2,
    "adamw_bnb_8bit": 2,
    "lion_8bit": 1,
    "adafactor": 0.5,
    "sgd": 0,
}
SHARDED = {  # what each strategy divides by the number of GPUs
    "ddp": (),
    "zero1": ("optimizer",),
    "zero2": ("optimizer", "gradients"),
    "zero3": ("optimizer", "gradients", "weights", "adapter"),
    "fsdp2": ("optimizer", "gradients", "weights", "adapter"),
}


@dataclass(frozen=True)
class Setup:
    """What memory depends on, read from a spec (see `setup_from_spec`)."""

    method: str = "lora"  # lora | qlora | dora | full
    bits: int = 16  # base weights: 16, 8 (load_in_8bit) or 4 (qlora); 32 on CPU
    lora_r: int = 16
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    lora_dropout: float = 0.05
    optimizer: str = "adamw_torch_fused"
    micro_batch: int = 2
    sequence_len: int = 2048
    grad_accum: int = 4
    checkpointing: bool = True
    flash_attention: bool = True
    gpus: int = 1
    strategy: str = "ddp"
    offload: bool = False

    def but(self, **changes: Any) -> Setup:
        return replace(self, **changes)

    @property
    def adapter(self) -> bool:
        return self.method in ("lora", "qlora", "dora")


@dataclass(frozen=True)
class Estimate:
    components: dict[str, float]  # bytes per GPU, by component
    trainable: int
    total_params: int

    @property
    def total(self) -> float:
        return sum(self.components.values())

    def gb(self) -> dict[str, float]:
        return {k: round(v / GB, 2) for k, v in self.components.items()}


def adapter_params(dims: Dims, setup: Setup) -> int:
    """LoRA A and B matrices (r x (in + out)) per targeted linear layer; DoRA adds a magnitude per output."""
    shapes = dims.linear_shapes()
    per_layer = 0
    for name in setup.lora_targets:
        if name in shapes:
            a, b = shapes[name]
            per_layer += setup.lora_r * (a + b) + (b if setup.method == "dora" else 0)
    return per_layer * dims.layers


def weight_bytes(dims: Dims, setup: Setup) -> float:
    if setup.bits == 32:
        return dims.params * 4.0
    if setup.bits in QUANT_BYTES:  # bitsandbytes quantizes linear layers; embeddings/head stay 16-bit
        linear = dims.layers * dims.layer_linear_params
        return linear * QUANT_BYTES[setup.bits] + (dims.params - linear) * 2.0
    return dims.params * 2.0


def activation_bytes(dims: Dims, setup: Setup) -> float:
    """Saved activations of one micro batch (16-bit), plus the logits and their gradient."""
    tokens = setup.micro_batch * setup.sequence_len
    width = 4 if setup.bits == 32 else 2
    h, i = dims.hidden, dims.intermediate
    # per token per layer: 2 norms' inputs, q/k/v/o inputs and outputs, 3 MLP inputs, gate/up/act outputs
    per_layer = width * (6 * h + dims.q_dim + 2 * dims.kv_dim + 4 * i)
    if setup.adapter and setup.lora_dropout > 0:  # PEFT keeps a dropped-out copy of each adapted input
        shapes = dims.linear_shapes()
        per_layer += width * sum(shapes[n][0] for n in setup.lora_targets if n in shapes)
    if not setup.flash_attention:  # eager/sdpa-math attention keeps the score matrix
        per_layer += int(width * dims.heads * setup.sequence_len * 1.5)
    if setup.checkpointing:  # each layer's input is kept; one layer is recomputed at a time
        layers = dims.layers * width * h + per_layer
    else:
        layers = dims.layers * per_layer
    return tokens * (layers + LOGIT_BYTES * dims.vocab)


def estimate(dims: Dims, setup: Setup) -> Estimate:
    """Bytes per GPU by component for `setup` on a model shaped like `dims`."""
    n = max(1, setup.gpus)
    sharded = SHARDED.get(setup.strategy, ())
    moments = OPTIMIZER_BYTES.get(setup.optimizer, 8)
    comps: dict[str, float] = {"weights": weight_bytes(dims, setup)}
    if setup.adapter:
        trainable = adapter_params(dims, setup)
        comps["adapter"] = trainable * 4.0  # PEFT keeps adapters in fp32
        comps["gradients"] = trainable * 4.0
        comps["optimizer"] = trainable * float(moments)
    else:
        trainable = dims.params
        full_width = 4.0 if setup.bits == 32 else 2.0
        comps["gradients"] = trainable * full_width
        comps["optimizer"] = trainable * (moments + (0 if setup.bits == 32 else MIXED_MASTER))
    if setup.offload:
        comps["optimizer"] = 0.0
    for part in sharded:
        if part in comps and n > 1:
            comps[part] /= n
    comps["activations"] = activation_bytes(dims, setup)
    comps["overhead"] = OVERHEAD if setup.bits != 32 else 0.5 * GB
    return Estimate(comps, trainable, dims.params)
