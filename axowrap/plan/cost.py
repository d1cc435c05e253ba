"""Time, money and disk: tokens per epoch over a stated throughput, and file sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from axowrap.gguf_types import BITS
from axowrap.plan.dims import Dims
from axowrap.plan.memory import OPTIMIZER_BYTES, Estimate, Setup
from axowrap.targets import Target

MFU = 0.35  # model FLOPs utilization assumed for fine-tuning with Axolotl (stated; override throughput)
MFU_RANGE = (0.25, 0.45)  # what the time range spans when the target is not calibrated
QLORA_SLOWDOWN = 0.6  # 4-bit weights are dequantized on every forward and backward


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float  # per GPU
    source: str
    low: float = 0.0  # the range's slow end (tokens/s per GPU)
    high: float = 0.0


def flops_factor(setup: Setup) -> float:
    """6 x params for a full fine-tune (forward 2, backward 4); 4 with adapters (no weight
    gradients for the frozen base); +2 when checkpointing recomputes the forward."""
    return (6.0 if setup.method == "full" else 4.0) + (2.0 if setup.checkpointing else 0.0)


def flops_per_token(dims: Dims, setup: Setup) -> float:
    """FLOPs per trained token over the parameters a token goes through (an MoE's active ones)."""
    return flops_factor(setup) * dims.active_params


def throughput(dims: Dims, setup: Setup, target: Target, override: float | None = None) -> Throughput | None:
    if override:
        return Throughput(override, "given on the command line", override, override)
    if not target.tflops:
        return None
    slowdown = QLORA_SLOWDOWN if setup.bits == 4 else 1.0
    per_mfu = target.tflops * 1e12 * slowdown / flops_per_token(dims, setup)
    what = f"{flops_factor(setup):g} x {dims.active_params / 1e9:.2f}B {'active ' if dims.is_moe else ''}params FLOPs per token"
    if target.mfu:
        mfu = target.mfu * slowdown
        source = f"{target.tflops:g} TFLOPs x {mfu:.0%} utilization (calibrated, {target.origin.get('mfu', 'spec')}) / {what}"
        return Throughput(per_mfu * target.mfu, source, per_mfu * target.mfu * 0.9, per_mfu * target.mfu * 1.1)
    mfu = MFU * slowdown
    source = f"{target.tflops:g} TFLOPs x {mfu:.0%} utilization (assumed) / {what}"
    return Throughput(per_mfu * MFU, source, per_mfu * MFU_RANGE[0], per_mfu * MFU_RANGE[1])


def time_and_cost(
    tokens: int | None, epochs: int, setup: Setup, tp: Throughput | None, target: Target, price: float | None = None
) -> dict[str, Any]:
    """Hours and money for `tokens` per epoch; None tokens (data not read) gives only the rate."""
    hourly = price if price is not None else (target.price_per_hour or 0.0)
    if tp is None:
        return {
            "tokens": None if tokens is None else tokens * epochs,
            "note": f"no throughput assumption for {target.name!r}: pass --throughput",
        }
    gpus = max(1, setup.gpus)
    scaling = 1.0 if gpus == 1 else 0.9  # communication between GPUs
    out: dict[str, Any] = {
        "tokens_per_s_per_gpu": round(tp.tokens_per_s),
        "tokens_per_s_range": [round(tp.low), round(tp.high)],
        "throughput_source": tp.source,
        "price_per_gpu_hour": hourly,
    }
    if tokens is None:
        return {"tokens": None, **out, "note": "time and cost unknown: the data was not read (--no-data)"}
    seconds = tokens * epochs / (tp.tokens_per_s * gpus * scaling)
    hours = [tokens * epochs / (t * gpus * scaling) / 3600 for t in (tp.high, tp.low)]
    gpu_hours = seconds / 3600 * gpus
    return {
        "tokens": tokens * epochs,
        **out,
        "seconds": round(seconds, 1),
        "hours": round(seconds / 3600, 3),
        "hours_range": [round(h, 3) for h in hours],
        "gpu_hours": round(gpu_hours, 3),
        "cost": round(gpu_hours * hourly, 2),
        "cost_range": [round(h * gpus * hourly, 2) for h in hours],
    }


def disk(
    dims: Dims, setup: Setup, est: Estimate, checkpoints: int | None, gguf: list[str], merge: bool
) -> dict[str, float]:
    """Bytes on disk: checkpoints (weights + optimizer; left out when their number depends on
    data that was not read), final output, merged model, GGUFs."""
    moments = OPTIMIZER_BYTES.get(setup.optimizer, 8)
    if setup.adapter:
        output = est.trainable * 4.0
        ckpt = est.trainable * (4.0 + moments)
    else:
        output = dims.params * 2.0
        ckpt = dims.params * (2.0 + 4.0 + moments)
    out = {"base model download": dims.params * 2.0}
    if checkpoints is not None:
        out[f"checkpoints ({checkpoints})"] = ckpt * checkpoints
    out["trained output"] = output
    if merge and setup.adapter:
        out["merged model"] = dims.params * 2.0
    for q in gguf:
        out[f"gguf {q}"] = dims.params * BITS.get(q, 16.0) / 8
    return out


def checkpoint_count(training: dict[str, Any], rows: int | None, setup: Setup) -> int | None:
    """How many checkpoints the run keeps; None when that depends on rows that were not read."""
    epochs = int(training.get("epochs", 1))
    if rows is None and training.get("save_steps") and not training.get("max_steps"):
        return None
    rows = rows or 0
    per_step = setup.micro_batch * setup.grad_accum * max(1, setup.gpus)
    steps = int(training.get("max_steps") or math.ceil(max(rows, 1) / per_step) * epochs)
    count = math.ceil(steps / training["save_steps"]) if training.get("save_steps") else epochs
    return min(count, int(training.get("save_total_limit") or count))
