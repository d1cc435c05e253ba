"""Time, money and disk: tokens per epoch over a stated throughput, and file sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from axowrap.plan.families import Dims
from axowrap.plan.memory import OPTIMIZER_BYTES, Estimate, Setup

MFU = 0.35  # model FLOPs utilization assumed for fine-tuning with Axolotl (stated; override throughput)
QLORA_SLOWDOWN = 0.6  # 4-bit weights are dequantized on every forward and backward
# Dense 16-bit tensor TFLOPs per GPU (vendor datasheets) and an on-demand price per GPU-hour
# (typical public cloud list prices; both are assumptions, overridable on the command line).
GPU_CLASSES: dict[str, tuple[float, float]] = {
    "t4-16gb": (65, 0.35),
    "a10g-24gb": (70, 1.01),
    "l4-24gb": (121, 0.80),
    "rtx4090-24gb": (165, 0.69),
    "a100-40gb": (312, 1.29),
    "a100-80gb": (312, 1.79),
    "h100-80gb": (989, 2.99),
    "h200-141gb": (989, 3.79),
}
# Bits per weight of each GGUF type (llama.cpp's figures for a 7B; k-quants mix types).
GGUF_BITS = {
    "f16": 16.0,
    "bf16": 16.0,
    "q8_0": 8.5,
    "q6_k": 6.56,
    "q5_k_m": 5.69,
    "q5_k_s": 5.54,
    "q5_0": 5.5,
    "q4_k_m": 4.85,
    "q4_k_s": 4.58,
    "q4_0": 4.5,
    "q3_k_m": 3.91,
    "q2_k": 3.35,
}


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float  # per GPU
    source: str


def flops_per_token(dims: Dims, setup: Setup) -> float:
    """6P for a full fine-tune (forward 2P, backward 4P); 4P with adapters (no weight
    gradients for the frozen base); +2P when checkpointing recomputes the forward."""
    base = 6.0 if setup.method == "full" else 4.0
    return (base + (2.0 if setup.checkpointing else 0.0)) * dims.params


def throughput(dims: Dims, setup: Setup, target: str, override: float | None = None) -> Throughput | None:
    if override:
        return Throughput(override, "given on the command line")
    if target not in GPU_CLASSES:
        return None
    tflops = GPU_CLASSES[target][0]
    mfu = MFU * (QLORA_SLOWDOWN if setup.bits == 4 else 1.0)
    tps = tflops * 1e12 * mfu / flops_per_token(dims, setup)
    return Throughput(
        tps,
        f"{tflops:g} TFLOPs x {mfu:.0%} utilization / {flops_per_token(dims, setup) / dims.params:g} x params FLOPs per token",
    )


def time_and_cost(
    tokens: int, epochs: int, setup: Setup, tp: Throughput | None, target: str, price: float | None = None
) -> dict[str, Any]:
    if tp is None:
        return {"tokens": tokens * epochs, "note": f"no throughput assumption for {target!r}: pass --throughput"}
    gpus = max(1, setup.gpus)
    scaling = 1.0 if gpus == 1 else 0.9  # communication between GPUs
    seconds = tokens * epochs / (tp.tokens_per_s * gpus * scaling)
    hourly = price if price is not None else GPU_CLASSES.get(target, (0, 0.0))[1]
    gpu_hours = seconds / 3600 * gpus
    return {
        "tokens": tokens * epochs,
        "tokens_per_s_per_gpu": round(tp.tokens_per_s),
        "throughput_source": tp.source,
        "seconds": round(seconds, 1),
        "hours": round(seconds / 3600, 3),
        "gpu_hours": round(gpu_hours, 3),
        "price_per_gpu_hour": hourly,
        "cost": round(gpu_hours * hourly, 2),
    }


def disk(dims: Dims, setup: Setup, est: Estimate, checkpoints: int, gguf: list[str], merge: bool) -> dict[str, float]:
    """Bytes on disk: checkpoints (weights + optimizer), final output, merged model, GGUFs."""
    moments = OPTIMIZER_BYTES.get(setup.optimizer, 8)
    if setup.adapter:
        output = est.trainable * 4.0
        ckpt = est.trainable * (4.0 + moments)
    else:
        output = dims.params * 2.0
        ckpt = dims.params * (2.0 + 4.0 + moments)
    out = {
        "base model download": dims.params * 2.0,
        f"checkpoints ({checkpoints})": ckpt * checkpoints,
        "trained output": output,
    }
    if merge and setup.adapter:
        out["merged model"] = dims.params * 2.0
    for q in gguf:
        out[f"gguf {q}"] = dims.params * GGUF_BITS.get(q, 16.0) / 8
    return out


def checkpoint_count(training: dict[str, Any], rows: int, setup: Setup) -> int:
    epochs = int(training.get("epochs", 1))
    per_step = setup.micro_batch * setup.grad_accum * max(1, setup.gpus)
    steps = int(training.get("max_steps") or math.ceil(max(rows, 1) / per_step) * epochs)
    count = math.ceil(steps / training["save_steps"]) if training.get("save_steps") else epochs
    return min(count, int(training.get("save_total_limit") or count))
