"""A resource plan for a spec on a target: memory by component, verdict, recommendations,
time, cost and disk. `fit_check` is the light part the validate rule uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from axowrap.plan.families import Dims, model_dims
from axowrap.plan.memory import GB, Estimate, Setup, estimate
from axowrap.plan.recommend import Recommendation, recommend
from axowrap.spec.model import Spec
from axowrap.targets import Target

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def setup_from_spec(spec: Spec, target: Target) -> Setup:
    """The memory-relevant settings of a spec as rendered for `target`."""
    from axowrap.config.render import optimizer  # the optimizer the rendered config will use

    d = spec.data
    tr = d["training"]
    lora = d["lora"]
    method = d["method"]
    overrides = d.get("axolotl") or {}
    bits = 16
    if method == "qlora" or overrides.get("load_in_4bit"):
        bits = 4
    elif overrides.get("load_in_8bit"):
        bits = 8
    if target.is_cpu:
        bits = 32
    targets = lora["target"]
    compute = d["compute"]
    return Setup(
        method=method,
        bits=bits,
        lora_r=int(lora["r"]),
        lora_targets=ALL_LINEAR if targets == "all-linear" else tuple(targets),
        lora_dropout=float(lora["dropout"]),
        optimizer=optimizer(tr, method, target),
        micro_batch=int(tr["micro_batch_size"]),
        sequence_len=int(tr["sequence_len"]),
        grad_accum=int(tr["gradient_accumulation_steps"]),
        checkpointing=bool(tr["gradient_checkpointing"]),
        flash_attention=target.flash_attention,
        gpus=target.gpus * target.nodes,
        strategy=str(compute["strategy"]),
        offload=compute.get("offload") == "cpu",
    )


def spec_dims(spec: Spec) -> Dims:
    model = str(spec.data["base_model"])
    return model_dims(model, spec.local_path(model))


def memory_limit(target: Target) -> tuple[float, str]:
    """Usable bytes per device and what they are (GPU memory, or this machine's RAM for cpu)."""
    if target.is_cpu:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return float(ram), "RAM of this machine"
    return target.vram_gb * GB, f"{target.vram_gb:g} GB per GPU"


@dataclass
class Plan:
    spec: Spec
    dims: Dims
    target: Target
    setup: Setup
    estimate: Estimate
    limit: float
    limit_label: str
    recommendations: list[Recommendation] = field(default_factory=list)
    time: dict[str, Any] = field(default_factory=dict)
    disk: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.estimate.total <= self.limit

    @property
    def headroom(self) -> float:
        return self.limit - self.estimate.total

    def to_json(self) -> dict[str, Any]:
        return {
            "model": {
                "name": self.dims.name,
                "source": self.dims.source,
                "params": self.dims.params,
                "hidden": self.dims.hidden,
                "layers": self.dims.layers,
                "vocab": self.dims.vocab,
            },
            "target": {
                "name": self.target.name,
                "gpus": self.target.gpus * self.target.nodes,
                "limit_gb": round(self.limit / GB, 2),
                "limit": self.limit_label,
            },
            "setup": vars(self.setup),
            "memory_gb": self.estimate.gb(),
            "total_gb": round(self.estimate.total / GB, 2),
            "trainable_params": self.estimate.trainable,
            "fits": self.fits,
            "headroom_gb": round(self.headroom / GB, 2),
            "recommendations": [
                {"change": r.change, "total_gb": round(r.estimate.total / GB, 2), "fits": r.fits}
                for r in self.recommendations
            ],
            "time": self.time,
            "disk_gb": {k: round(v / GB, 2) for k, v in self.disk.items()},
            "notes": self.notes,
        }


def fit_check(spec: Spec, target: Target) -> Plan:
    """Memory and verdict only (no data read): what `validate` uses."""
    dims = spec_dims(spec)
    setup = setup_from_spec(spec, target)
    est = estimate(dims, setup)
    limit, label = memory_limit(target)
    plan = Plan(spec, dims, target, setup, est, limit, label)
    if not plan.fits or plan.headroom < 0.1 * limit:
        plan.recommendations = recommend(dims, setup, limit)
    return plan


def plan_spec(
    spec: Spec,
    target: Target | None = None,
    *,
    throughput: float | None = None,
    price: float | None = None,
    tokens: bool = True,
) -> Plan:
    """The full plan: memory, verdict, recommendations, time and cost from the data, disk."""
    from axowrap.plan.cost import checkpoint_count, disk, time_and_cost
    from axowrap.plan.cost import throughput as assumed

    tgt = spec.target(target)
    plan = fit_check(spec, tgt)
    training = spec.data.get("training") or {}
    count, rows, note = _data_tokens(spec, plan.setup) if tokens else (0, 0, "data not read (--no-data)")
    plan.notes.append(note)
    ev = spec.data.get("eval") or {}
    if ev.get("holdout") and "holdout_file" not in ev:  # held-out rows are not trained on
        count = round(count * (1 - float(ev["holdout"])))
        rows = round(rows * (1 - float(ev["holdout"])))
    epochs = int(training["epochs"])
    if training.get("max_steps") and rows:
        per_step = plan.setup.micro_batch * plan.setup.grad_accum * max(1, plan.setup.gpus)
        epochs_float = training["max_steps"] * per_step / rows
        count = round(count * epochs_float)
        epochs = 1
    plan.time = time_and_cost(
        count, epochs, plan.setup, assumed(plan.dims, plan.setup, tgt.name, throughput), tgt.name, price
    )
    export = spec.data.get("export") or {}
    plan.disk = disk(
        plan.dims,
        plan.setup,
        plan.estimate,
        checkpoint_count(training, rows, plan.setup),
        list(export.get("gguf") or []),
        bool(export.get("merge")),
    )
    return plan


def _data_tokens(spec: Spec, setup: Setup) -> tuple[int, int, str]:
    """(tokens per epoch, rows, note) from the token check of the spec's local datasets."""
    from axowrap.data.check import check_spec_data

    report = check_spec_data(spec, tokens=True)
    total = rows = 0
    for ds in report.datasets:
        if ds.tokens:
            total += ds.tokens["tokens"]
            rows += ds.tokens["rows"]
    notes = "; ".join(report.notes) or "no local data"
    return total, rows, f"tokens per epoch from the data check: {notes}"
