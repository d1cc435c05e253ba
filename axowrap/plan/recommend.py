"""Changes that make a setup fit a target, each with its new estimate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axowrap.plan.dims import Dims
from axowrap.plan.memory import ALL_LINEAR, OPTIMIZER_BYTES, Estimate, Setup, estimate, is_paged

GPU_COUNTS = (2, 4, 8, 16)


@dataclass(frozen=True)
class Recommendation:
    change: str
    setup: Setup
    estimate: Estimate
    fits: bool


Change = Callable[[Setup], tuple[str, Setup] | None]
ModelChange = Callable[[Dims, Setup], tuple[str, Setup] | None]


def _qlora(s: Setup) -> tuple[str, Setup] | None:
    if s.method in ("lora", "dora") and s.bits == 16:
        return "method: qlora (4-bit base) instead of " + s.method, s.but(method="qlora", bits=4)
    return None


def _lora(s: Setup) -> tuple[str, Setup] | None:
    if s.method == "full":
        return "method: lora instead of a full fine-tune", s.but(method="lora")
    return None


def _smaller_batch(s: Setup) -> tuple[str, Setup] | None:
    if s.micro_batch > 1:
        mb = max(1, s.micro_batch // 2)
        ga = s.grad_accum * s.micro_batch // mb
        return f"micro_batch_size {mb} with gradient_accumulation_steps {ga} (same effective batch)", s.but(
            micro_batch=mb, grad_accum=ga
        )
    return None


def _checkpointing(s: Setup) -> tuple[str, Setup] | None:
    if not s.checkpointing:
        return "gradient_checkpointing: true", s.but(checkpointing=True)
    return None


def _optimizer_8bit(s: Setup) -> tuple[str, Setup] | None:
    if is_paged(s.optimizer):  # its state is already off the GPU total: adamw_8bit would put it back
        return None
    if OPTIMIZER_BYTES.get(s.optimizer, 8) > 2:
        return "optimizer: adamw_8bit", s.but(optimizer="adamw_8bit")
    return None


def _zero3(s: Setup) -> tuple[str, Setup] | None:
    if s.gpus > 1 and s.strategy not in ("zero3", "fsdp2"):
        return f"compute.strategy: zero3 (shard weights, gradients and optimizer over {s.gpus} GPUs)", s.but(
            strategy="zero3"
        )
    return None


def _fused_loss(s: Setup) -> tuple[str, Setup] | None:
    if s.loss == "full" and s.bits != 32:
        return "speed.fused_cross_entropy: true (Liger's chunked loss: no full logits)", s.but(loss="fused")
    return None


SINGLE_CHANGES: tuple[Change, ...] = (
    _lora,
    _qlora,
    _smaller_batch,
    _checkpointing,
    _optimizer_8bit,
    _fused_loss,
    _zero3,
)


def _quantize_experts(d: Dims, s: Setup) -> tuple[str, Setup] | None:
    if d.is_moe and s.bits in (4, 8) and not s.experts_quantized:
        return (
            "axolotl: {quantize_moe_experts: true} with lora.target listing the attention projections "
            "(the routed experts load in 4/8-bit too)",
            s.but(experts_quantized=True, lora_targets=tuple(d.attention_shapes())),
        )
    return None


def _frozen_vision(d: Dims, s: Setup) -> tuple[str, Setup] | None:
    if d.vision is not None and s.method != "full" and s.lora_targets == ALL_LINEAR:
        names = tuple(d.linear_shapes())
        short = "|".join(sorted({n.removesuffix("_proj") for n in names}))
        regex = rf"model.language_model.layers.[\d]+.(mlp|self_attn|cross_attn).({short})_proj"
        return (
            f"axolotl: {{lora_target_linear: false, lora_target_modules: '{regex}'}} "
            "(LoRA on the language model only: the vision tower stays frozen)",
            s.but(lora_targets=names),
        )
    return None


def _fewer_images(d: Dims, s: Setup) -> tuple[str, Setup] | None:
    if d.vision is not None and s.images > 1:
        return f"at most {s.images // 2} image(s) per sample (smaller or fewer images)", s.but(images=s.images // 2)
    return None


MODEL_CHANGES: tuple[ModelChange, ...] = (_quantize_experts, _frozen_vision, _fewer_images)


def recommend(dims: Dims, setup: Setup, vram: float) -> list[Recommendation]:
    """Each single change with its estimate; then all of them together (the micro batch halved
    until it fits) if none fits alone; then the fewest GPUs (with ZeRO-3) that fit."""
    out: list[Recommendation] = []
    combined = setup
    labels: list[str] = []
    for model_change in MODEL_CHANGES:  # the model's own terms first: they cost nothing in quality
        step = model_change(dims, setup)
        if step is not None:
            est = estimate(dims, step[1])
            out.append(Recommendation(step[0], step[1], est, est.total <= vram))
            labels.append(step[0])
            combined = model_change(dims, combined)[1]  # type: ignore[index]
    for change in SINGLE_CHANGES:
        step = change(setup)
        if step is None:
            continue
        label, new = step
        est = estimate(dims, new)
        out.append(Recommendation(label, new, est, est.total <= vram))
        applied = change(combined)
        if applied is not None and not (label.startswith("method: qlora") and combined.method == "full"):
            labels.append(applied[0])
            combined = applied[1]
    if out and not any(r.fits for r in out) and len(labels) > 1:
        while estimate(dims, combined).total > vram and combined.micro_batch > 1:  # halve until it fits
            label, combined = _smaller_batch(combined)  # type: ignore[misc]
            labels = [x for x in labels if not x.startswith("micro_batch_size")] + [label]
        est = estimate(dims, combined)
        out.append(Recommendation(" + ".join(labels), combined, est, est.total <= vram))
    if not any(r.fits for r in out):
        base = combined if labels else setup
        for n in GPU_COUNTS:
            if n <= setup.gpus:
                continue
            new = base.but(gpus=n, strategy="zero3")
            est = estimate(dims, new)
            if est.total <= vram:
                prefix = " + ".join(labels) + " + " if labels else ""
                out.append(Recommendation(f"{prefix}{n} GPUs with compute.strategy: zero3", new, est, True))
                break
    return out
