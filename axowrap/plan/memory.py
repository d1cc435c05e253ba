"""GPU memory per device for one training setup, by component (bytes). The formulas, each with
its reason, are in docs/plan.md; tests/test_plan*.py check them against numbers computed by
hand and against published figures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from axowrap.plan.dims import Dims

GB = 1e9
OVERHEAD = 1.5 * GB  # CUDA context + allocator fragmentation (anchors: 1-2 GB)
QUANT_BYTES = {4: 0.55, 8: 1.06}  # bytes per weight of quantized linear layers (NF4 / int8 + constants)
# Per token per vocab entry at the loss: bf16 logits (2) and transformers' fp32 upcast (4) in
# the forward; in the backward the saved log-softmax (4), its incoming gradient (4) and the
# gradient of the logits (4) are alive together: 12.
LOGIT_BYTES = 12
FUSED_LOSS_BYTES = 8  # per token per hidden unit: Liger's FLCE (grad of the input + one chunk of logits)
CUT_LOSS_BYTES = 2  # per token per hidden unit: CCE keeps only the input's gradient (and 8 bytes of LSE)
GLU_SAVED = {False: 4, True: 3}  # MLP tensors of width i saved per token: HF gate/up/act/product; Liger recomputes act
KERNEL_GLU_SAVED = 2  # Axolotl's LoRA MLP kernel saves gate and up and recomputes the rest (kernels/lora.py)
# Optimizer state bytes per trainable fp32 parameter. torch's optimizers keep their state in the
# parameter's dtype, so a bf16 full fine-tune (Axolotl loads the model in bf16 and keeps no fp32
# master copy) pays half; bitsandbytes' states have a fixed size.
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
FIXED_STATE = {"paged_adamw_32bit", "adamw_8bit", "paged_adamw_8bit", "adamw_bnb_8bit", "lion_8bit"}
# bitsandbytes' paged optimizers (transformers makes every optimizer whose name says "paged" one:
# trainer_optimizer.py `is_paged = "paged" in optim_name`) allocate the state of each parameter of
# at least PAGED_MIN elements with cudaMallocManaged (bitsandbytes optim/optimizer.py
# `get_state_buffer`, functional.py `get_paged`): CUDA unified memory, outside PyTorch's allocator
# and its peak, on the GPU while it has room and paged out to CPU RAM when it does not. Smaller
# parameters get ordinary GPU tensors; on CPU bitsandbytes pages nothing.
PAGED_MIN = 100_000
SHARDED = {  # what each strategy divides by the number of GPUs
    "ddp": (),
    "zero1": ("optimizer",),
    "zero2": ("optimizer", "gradients"),
    "zero3": ("optimizer", "gradients", "weights", "adapter"),
    "fsdp2": ("optimizer", "gradients", "weights", "adapter"),
}
ALL_LINEAR = ("all-linear",)
PAIRED = ("dpo", "orpo", "ipo", "simpo", "reward-model")  # chosen and rejected go through in one batch
# How sure each component is: the total's range is the sum of each component's range.
UNCERTAINTY = {"activations": 0.25, "logits": 0.15, "vision": 0.35, "generation": 0.3, "overhead": 0.5}


@dataclass(frozen=True)
class Setup:
    """What memory depends on, read from a spec (see `setup_from_spec`)."""

    method: str = "lora"  # lora | qlora | dora | full
    bits: int = 16  # base weights: 16, 8 (load_in_8bit) or 4 (qlora); 32 on CPU
    lora_r: int = 16
    lora_targets: tuple[str, ...] = ALL_LINEAR
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
    loss: str = "full"  # full | fused (Liger FLCE) | cut (CCE)
    liger: bool = False  # Liger's RoPE/RMSNorm/GLU kernels
    lora_kernels: bool = False
    expert_lora: bool = False  # LoRA on the routed experts (lora_target_parameters)
    experts_quantized: bool = False  # quantize_moe_experts: 4/8-bit routed experts too
    context_parallel: int = 1
    tensor_parallel: int = 1
    images: int = 1  # images per sample (vision models)
    overhead_gb: float | None = None  # measured on the target (plan --calibrate)
    rl: str | None = None  # the trainer (dpo, orpo, kto, reward-model, grpo...): axowrap.objectives
    generations: int = 0  # GRPO: completions per prompt
    completion_len: int = 0  # GRPO: max completion tokens
    vllm: bool = False  # GRPO generates in a vLLM server beside training (GPU targets), not in-process

    def but(self, **changes: Any) -> Setup:
        return replace(self, **changes)

    @property
    def tokens(self) -> float:
        """Token positions of one micro batch on one GPU (a preference pair counts twice;
        context parallelism splits the sequence)."""
        pairs = 2 if self.rl in PAIRED else 1
        return self.micro_batch * pairs * self.sequence_len / max(1, self.context_parallel)

    @property
    def adapter(self) -> bool:
        return self.method in ("lora", "qlora", "dora")


@dataclass(frozen=True)
class Estimate:
    components: dict[str, float]  # bytes per GPU, by component: what must fit in the GPU's memory
    trainable: int
    total_params: int
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    # a paged optimizer's state in CUDA unified memory (bytes per GPU): not in `total`, since it
    # can spill to CPU RAM; on the GPU only while the GPU has room for it
    paged: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.components.values())

    @property
    def low(self) -> float:
        return sum(self.ranges.get(k, (v, v))[0] for k, v in self.components.items())

    @property
    def high(self) -> float:
        return sum(self.ranges.get(k, (v, v))[1] for k, v in self.components.items())

    def gb(self) -> dict[str, float]:
        return {k: round(v / GB, 2) for k, v in self.components.items()}


def targeted_shapes(dims: Dims, setup: Setup) -> dict[str, tuple[int, int]]:
    shapes = dims.linear_shapes()
    if setup.lora_targets == ALL_LINEAR:
        return shapes
    return {n: s for n, s in shapes.items() if n in setup.lora_targets}


def adapter_params(dims: Dims, setup: Setup) -> int:
    """LoRA A and B matrices (r x (in + out)) per targeted linear layer (DoRA adds a magnitude
    per output), the vision tower's when all-linear reaches it, and the experts' when targeted."""
    return sum(elements * count for elements, count in adapter_tensors(dims, setup))


def adapter_tensors(dims: Dims, setup: Setup) -> list[tuple[int, int]]:
    """(elements, how many) of each trainable adapter tensor: A (r x in) and B (out x r) of each
    targeted linear layer (DoRA's magnitude: out) in every layer; the vision tower's q, k, v, o
    (h_v x h_v) and MLP (h_v <-> i_v) when all-linear reaches it; PEFT's target_parameters LoRA
    on the routed experts (r x E x in, r x E x out per 3D tensor)."""
    r = setup.lora_r
    out: list[tuple[int, int]] = []
    for a, b in targeted_shapes(dims, setup).values():
        out += [(r * a, dims.layers), (r * b, dims.layers)]
        if setup.method == "dora":
            out.append((b, dims.layers))
    v = dims.vision
    if v is not None and setup.lora_targets == ALL_LINEAR:
        mlp = 3 if v.gated else 2  # gate, up, down or fc1, fc2: each has one side h_v and one i_v
        out += [(r * v.hidden, (4 * 2 + mlp) * v.layers), (r * v.intermediate, mlp * v.layers)]
    if dims.is_moe and setup.expert_lora:
        h, i, e = dims.hidden, dims.expert_intermediate, dims.experts
        out += [(r * e * n, dims.moe_layers) for n in (h, 2 * i, i, h)]  # gate_up: h -> 2i; down: i -> h
    return out


def text_tensors(dims: Dims) -> list[tuple[int, int]]:
    """(elements, how many) of each parameter tensor of the language model: attention and MLP
    matrices, an MoE layer's routed experts as two 3D tensors (transformers 5: gate_up and down),
    its router and shared experts, embeddings and head, norms. They add up to `dims.text_params`."""
    h = dims.hidden
    out = [(a * b, dims.layers) for a, b in dims.attention_shapes().values()]
    out += [(a * b, dims.dense_layers) for a, b in dims.mlp_shapes().values()]
    if dims.is_moe:
        e, i = dims.experts, dims.expert_intermediate
        out += [(e * h * 2 * i, dims.moe_layers), (e * i * h, dims.moe_layers), (h * e, dims.moe_layers)]
        if dims.shared_intermediate:
            out += [(a * b, dims.moe_layers) for a, b in dims.mlp_shapes(dims.shared_intermediate).values()]
    return out + [(dims.vocab * h, 1 if dims.tied else 2), (h, 2 * dims.layers + 1)]


def is_paged(optimizer: str) -> bool:
    return "paged" in optimizer


def paged_params(dims: Dims, setup: Setup) -> int:
    """Trainable parameters whose optimizer state a paged optimizer keeps in unified memory: those
    in tensors of at least PAGED_MIN elements. A full fine-tune: all but the small tensors of the
    language model (norms always; routers and a small model's matrices too), the vision tower
    counted as paged (its norms and biases are a rounding error); adapters: each LoRA A and B that
    reaches it (r 16 on a 4096-wide layer, 65,536 elements, does not)."""
    if not is_paged(setup.optimizer) or setup.bits == 32:
        return 0
    tensors = adapter_tensors(dims, setup) if setup.adapter else text_tensors(dims)
    small = sum(elements * count for elements, count in tensors if elements < PAGED_MIN)
    total = adapter_params(dims, setup) if setup.adapter else dims.params
    return total - small


def weight_bytes(dims: Dims, setup: Setup) -> float:
    """Base weights. bitsandbytes quantizes nn.Linear layers only: the routed experts (3D
    parameters in transformers 5) stay 16-bit unless quantize_moe_experts; embeddings and the
    head stay 16-bit."""
    if setup.bits == 32:
        return dims.params * 4.0
    tp = max(1, setup.tensor_parallel)
    linear = dims.layer_linear_params - (0 if setup.experts_quantized else dims.routed_expert_params)
    if dims.vision:
        linear += dims.vision.params
    if setup.bits not in QUANT_BYTES:
        return (dims.params - dims.layer_linear_params) * 2.0 + dims.layer_linear_params * 2.0 / tp
    rest = dims.params - linear
    return linear * QUANT_BYTES[setup.bits] / tp + rest * 2.0


def _attention_width(dims: Dims, setup: Setup) -> float:
    """Per token per layer, in elements: norms' inputs, q/k/v and attention outputs, residual."""
    tp = max(1, setup.tensor_parallel)
    return 6 * dims.hidden + (dims.q_dim + 2 * dims.kv_dim) / tp


def _mlp_width(dims: Dims, setup: Setup, moe: bool) -> float:
    tp = max(1, setup.tensor_parallel)
    saved = KERNEL_GLU_SAVED if setup.lora_kernels and setup.adapter else GLU_SAVED[setup.liger]
    if not moe:
        return saved * dims.intermediate / tp
    # each token's chosen experts keep their input and gate/up/act/product; plus the shared
    # experts, and the router's logits (fp32: 2 elements of 16 bits each)
    routed = dims.experts_per_token * (dims.hidden + 4 * dims.expert_intermediate)
    return (routed + saved * dims.shared_intermediate) / tp + 2 * dims.experts


def dropout_width(dims: Dims, setup: Setup) -> float:
    """Elements per token per layer of the dropped-out inputs LoRA keeps: PEFT one per adapted
    layer; Axolotl's LoRA kernels one per fused group (q/k/v, o, the MLP)."""
    shapes = targeted_shapes(dims, setup)
    if not setup.lora_kernels:
        return sum(a for a, _ in shapes.values())
    groups = {"qkv": ("q_proj", "k_proj", "v_proj"), "o": ("o_proj",), "mlp": ("gate_proj", "up_proj", "down_proj")}
    width = {"qkv": dims.hidden, "o": dims.attn_out_dim, "mlp": dims.hidden}
    return sum(width[g] for g, names in groups.items() if any(n in shapes for n in names))


def layer_activation_bytes(dims: Dims, setup: Setup, moe: bool) -> float:
    """Saved activations of one decoder layer, per token (bytes)."""
    width = 4 if setup.bits == 32 else 2
    per = _attention_width(dims, setup) + _mlp_width(dims, setup, moe)
    if setup.adapter and setup.lora_dropout > 0:
        per += dropout_width(dims, setup)
    if not setup.flash_attention:  # eager/sdpa-math attention keeps the score matrix
        per += dims.heads * setup.sequence_len / max(1, setup.context_parallel) * 1.5
    return per * width


def text_activation_bytes(dims: Dims, setup: Setup) -> float:
    """Saved activations of one micro batch in the decoder (logits aside)."""
    tokens = setup.tokens
    width = 4 if setup.bits == 32 else 2
    dense = layer_activation_bytes(dims, setup, moe=False)
    moe = layer_activation_bytes(dims, setup, moe=True) if dims.is_moe else dense
    if setup.checkpointing:  # each layer's input is kept; one layer is recomputed at a time
        per_token = dims.layers * width * dims.hidden + max(
            dense if dims.dense_layers else 0, moe if dims.moe_layers else 0
        )
    else:
        per_token = dims.dense_layers * dense + dims.moe_layers * moe
    return tokens * per_token


def logit_bytes(dims: Dims, setup: Setup) -> float:
    """The loss's peak: full logits, Liger's chunks, or CCE's input gradient."""
    tokens = setup.tokens
    if setup.loss == "fused":
        return tokens * FUSED_LOSS_BYTES * dims.hidden
    if setup.loss == "cut":
        return tokens * (CUT_LOSS_BYTES * dims.hidden + 8)
    return tokens * LOGIT_BYTES * dims.vocab


def vision_bytes(dims: Dims, setup: Setup) -> float:
    """The vision tower's activations for a micro batch of `images` images each: checkpointed
    layer inputs plus one layer when the tower is trained (full, or all-linear LoRA reaches it),
    else one layer's forward only; plus Mllama's cross-attention keys and values."""
    v = dims.vision
    if v is None or setup.images <= 0:
        return 0.0
    width = 4 if setup.bits == 32 else 2
    per_image = v.tokens_per_image
    if v.text_tokens_per_image > 1:  # images whose tokens sit in the text sequence cannot exceed it
        fits = setup.sequence_len / (setup.images * v.text_tokens_per_image)
        per_image = int(per_image * min(1.0, fits))
    tokens = setup.micro_batch * setup.images * per_image
    layer = (10 * v.hidden + (3 if v.gated else 2) * v.intermediate) * width
    trained = setup.method == "full" or setup.lora_targets == ALL_LINEAR
    if trained:
        per_token = (v.layers * v.hidden * width + layer) if setup.checkpointing else v.layers * layer
    else:
        per_token = layer
    cross = dims.cross_attention_layers * 2 * dims.kv_dim * width
    return tokens * (per_token + cross)


def generation_bytes(dims: Dims, setup: Setup) -> float:
    """GRPO's generation inside the training process (TRL's own generate, no vLLM): the KV cache
    of the completions generated at once. TRL's per_device_train_batch_size counts completions
    and its steps_per_generation defaults to gradient_accumulation_steps, so a GPU generates
    micro_batch x grad_accum completions together, each of up to `sequence_len +
    completion_len` tokens, keys and values in every layer. 0 for other trainers, and when a
    vLLM server generates (plan/objective.py counts the server's share of the GPU)."""
    if setup.rl != "grpo" or setup.generations <= 0 or setup.vllm:
        return 0.0
    width = 4 if setup.bits == 32 else 2
    tokens = setup.micro_batch * setup.grad_accum * (setup.sequence_len + setup.completion_len)
    return tokens * dims.layers * 2 * dims.kv_dim * width


def optimizer_state(setup: Setup, params: float, param_bytes: float) -> float:
    moments = OPTIMIZER_BYTES.get(setup.optimizer, 8)
    if setup.optimizer not in FIXED_STATE:
        moments = moments * param_bytes / 4.0
    return params * moments


def estimate(dims: Dims, setup: Setup) -> Estimate:
    """Bytes per GPU by component for `setup` on a model shaped like `dims`."""
    n = max(1, setup.gpus)
    sharded = SHARDED.get(setup.strategy, ())
    comps: dict[str, float] = {"weights": weight_bytes(dims, setup)}
    if setup.adapter:
        trainable = adapter_params(dims, setup)
        comps["adapter"] = trainable * 4.0  # PEFT keeps adapters in fp32
        comps["gradients"] = trainable * 4.0
        comps["optimizer"] = optimizer_state(setup, trainable, 4.0)
    else:
        trainable = dims.params
        width = 4.0 if setup.bits == 32 else 2.0  # bf16 training: 16-bit weights, gradients and states
        comps["gradients"] = trainable * width / max(1, setup.tensor_parallel)
        comps["optimizer"] = optimizer_state(setup, trainable, width) / max(1, setup.tensor_parallel)
    if setup.offload:
        comps["optimizer"] = 0.0
    for part in sharded:
        if part in comps and n > 1:
            comps[part] /= n
    # the paged share of the state leaves the GPU total (bitsandbytes' states are a fixed number
    # of bytes per parameter, so the share of parameters is the share of bytes)
    paged = comps["optimizer"] * paged_params(dims, setup) / trainable if trainable else 0.0
    comps["optimizer"] -= paged
    comps["activations"] = text_activation_bytes(dims, setup)
    comps["logits"] = logit_bytes(dims, setup)
    if dims.vision is not None:
        comps["vision"] = vision_bytes(dims, setup)
    if setup.rl == "grpo":
        comps["generation"] = generation_bytes(dims, setup)
    if setup.overhead_gb is not None:
        comps["overhead"] = setup.overhead_gb * GB
    else:
        comps["overhead"] = OVERHEAD if setup.bits != 32 else 0.5 * GB
    sure = setup.overhead_gb is not None
    ranges = {
        k: (v * (1 - u), v * (1 + u))
        for k, v in comps.items()
        if (u := UNCERTAINTY.get(k, 0.0)) and not (k == "overhead" and sure)
    }
    return Estimate(comps, trainable, dims.params, ranges, paged)
