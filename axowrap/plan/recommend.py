"""Changes that make a setup fit a target, each with its new estimate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axowrap.plan.families import Dims
from axowrap.plan.memory import OPTIMIZER_BYTES, Estimate, Setup, estimate

GPU_COUNTS = (2, 4, 8, 16)


@dataclass(frozen=True)
class Recommendation:
    change: str
    setup: Setup
    estimate: Estimate
    fits: bool


Change = Callable[[Setup], tuple[str, Setup] | None]


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
    if OPTIMIZER_BYTES.get(s.optimizer, 8) > 2:
        return "optimizer: adamw_8bit", s.but(optimizer="adamw_8bit")
    return None


def _zero3(s: Setup) -> tuple[str, Setup] | None:
    if s.gpus > 1 and s.strategy not in ("zero3", "fsdp2"):
        return f"compute.strategy: zero3 (shard weights, gradients and optimizer over {s.gpus} GPUs)", s.but(
            strategy="zero3"
        )
    return None


SINGLE_CHANGES: tuple[Change, ...] = (_lora, _qlora, _smaller_batch, _checkpointing, _optimizer_8bit, _zero3)


def recommend(dims: Dims, setup: Setup, vram: float) -> list[Recommendation]:
    """Each single change with its estimate; then all of them together (the micro batch halved
    until it fits) if none fits alone; then the fewest GPUs (with ZeRO-3) that fit."""
    out: list[Recommendation] = []
    combined = setup
    labels: list[str] = []
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
