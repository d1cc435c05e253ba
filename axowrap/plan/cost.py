"""Time, money and disk: tokens per epoch over a stated throughput, and file sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from axowrap.gguf_types import BITS
from axowrap.plan.families import Dims
from axowrap.plan.memory import OPTIMIZER_BYTES, Estimate, Setup
from axowrap.targets import profiles

MFU = 0.35  # model FLOPs utilization assumed for fine-tuning with Axolotl (stated; override throughput)
QLORA_SLOWDOWN = 0.6  # 4-bit weights are dequantized on every forward and backward


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
    tflops = profiles().get(target, {}).get("tflops")
    if not tflops:
        return None
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
    hourly = price if price is not None else (profiles().get(target, {}).get("price_per_hour") or 0.0)
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
        out[f"gguf {q}"] = dims.params * BITS.get(q, 16.0) / 8
    return out


def checkpoint_count(training: dict[str, Any], rows: int, setup: Setup) -> int:
    epochs = int(training.get("epochs", 1))
    per_step = setup.micro_batch * setup.grad_accum * max(1, setup.gpus)
    steps = int(training.get("max_steps") or math.ceil(max(rows, 1) / per_step) * epochs)
    count = math.ceil(steps / training["save_steps"]) if training.get("save_steps") else epochs
    return min(count, int(training.get("save_total_limit") or count))
