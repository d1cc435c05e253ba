"""A resource plan for a spec on a target: memory by component (with a range), verdict,
recommendations, time, cost and disk. `fit_check` is the light part the validate rule uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from axowrap.plan.dims import Dims
from axowrap.plan.families import model_dims
from axowrap.plan.memory import ALL_LINEAR, GB, Estimate, Setup, estimate
from axowrap.plan.recommend import Recommendation, recommend
from axowrap.spec.model import Spec
from axowrap.targets import Target

EXPERT_PARAMS = ("experts", "gate_up_proj", "down_proj")  # lora_target_parameters naming the routed experts


def setup_from_spec(spec: Spec, target: Target, *, images: int | None = None) -> Setup:
    """The memory-relevant settings of a spec as rendered for `target`."""
    from axowrap.config.render import optimizer  # the optimizer the rendered config will use
    from axowrap.config.speed import resolve

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
    speed = resolve(spec, target)
    params = overrides.get("lora_target_parameters") or []
    params = [params] if isinstance(params, str) else params
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
        flash_attention=speed.attention != "sdpa",
        gpus=target.gpus * target.nodes,
        strategy=str(compute["strategy"]),
        offload=compute.get("offload") == "cpu",
        loss=speed.loss,
        liger=speed.on["liger"],
        lora_kernels=speed.on["lora_kernels"],
        expert_lora=any(any(k in str(p) for k in EXPERT_PARAMS) for p in params),
        experts_quantized=bool(overrides.get("quantize_moe_experts")),
        context_parallel=int(overrides.get("context_parallel_size") or 1),
        tensor_parallel=int(overrides.get("tensor_parallel_size") or 1),
        images=1 if images is None else images,
        overhead_gb=target.overhead_gb,
        **_objective_setup(spec, target),
    )


def _objective_setup(spec: Spec, target: Target) -> dict[str, Any]:
    """The training objective's part of the setup (axowrap.objectives): which trainer, and GRPO's
    group, completion length and generation backend."""
    from axowrap.objectives import objective_of

    objective = objective_of(spec.preset)
    out: dict[str, Any] = {"rl": None if objective.name == "sft" else objective.name}
    if objective.name == "grpo":
        tr = spec.data["training"]
        out.update(generations=int(tr["generations"]), completion_len=int(tr["completion_len"]), vllm=not target.is_cpu)
    return out


def spec_dims(spec: Spec, *, network: bool = False) -> Dims:
    model = str(spec.data["base_model"])
    return model_dims(model, spec.local_path(model, model=True), revision=spec.data.get("revision"), network=network)


def memory_limit(target: Target) -> tuple[float, str]:
    """Usable bytes per device and what they are (GPU memory, or this machine's RAM for cpu)."""
    if target.is_cpu:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return float(ram), "RAM of this machine"
    return target.vram_gb * GB, f"{target.vram_gb:g} GB per GPU"


def model_notes(dims: Dims, setup: Setup) -> list[str]:
    """What a reader of the plan must know about this model's terms."""
    out = list(dims.notes)
    if dims.is_moe:
        out.append(
            f"mixture of experts: {dims.params / 1e9:.1f}B parameters in memory (all {dims.experts} experts), "
            f"{dims.active_params / 1e9:.1f}B active per token ({dims.experts_per_token} experts), which sets the time"
        )
        if setup.adapter and not setup.expert_lora:
            out.append(
                "LoRA reaches attention (and shared experts), not the routed experts: they are 3D tensors in transformers 5; "
                "target them with `axolotl: {lora_target_parameters: [...]}` (needs lora.dropout: 0)"
            )
        if setup.bits == 4 and not setup.experts_quantized:
            out.append(
                f"4-bit loading quantizes nn.Linear only: the routed experts ({dims.routed_expert_params / 1e9:.1f}B) stay 16-bit "
                "unless `axolotl: {quantize_moe_experts: true}`"
            )
    if dims.vision is not None:
        v = dims.vision
        out.append(
            f"vision tower: {v.params / 1e9:.2f}B parameters; {setup.images} image(s) per sample of {v.tokens_per_image} "
            f"tower tokens ({v.source}), {v.text_tokens_per_image} of them in the text sequence (`plan --images N`; 0 for text-only data)"
        )
    if setup.context_parallel > 1 or setup.tensor_parallel > 1:
        out.append(
            f"context parallel {setup.context_parallel} (activations split by sequence), "
            f"tensor parallel {setup.tensor_parallel} (linear weights and widths split)"
        )
    return out


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
    mixture: list[dict[str, Any]] | None = None  # each dataset's share of rows and tokens (`weight:`)

    @property
    def fits(self) -> bool:
        return self.estimate.total <= self.limit

    @property
    def headroom(self) -> float:
        return self.limit - self.estimate.total

    @property
    def paged_spill(self) -> float:
        """Bytes of a paged optimizer's state the GPU has no room for at the peak: in CPU RAM then
        (at most the whole paged state)."""
        paged = self.estimate.paged
        return min(paged, max(0.0, self.estimate.total + paged - self.limit))

    def paged_json(self) -> dict[str, Any]:
        """The paged optimizer state per GPU, what of it spills at the peak, and the CPU RAM the
        node needs to hold all of it (every GPU of the node pages into the same RAM)."""
        per_node = self.estimate.paged * self.target.gpus
        return {
            "optimizer_gb": round(self.estimate.paged / GB, 2),
            "spill_gb": round(self.paged_spill / GB, 2),
            "cpu_ram_gb_per_node": round(per_node / GB, 2),
        }

    @property
    def verdict(self) -> str:
        """fits | tight (the range reaches past the limit) | does not fit."""
        if not self.fits:
            return "does not fit"
        return "tight" if self.estimate.high > self.limit else "fits"

    def to_json(self) -> dict[str, Any]:
        setup = vars(self.setup).copy()
        setup["lora_targets"] = list(setup["lora_targets"])
        return {
            "model": {
                "name": self.dims.name,
                "source": self.dims.source,
                "revision": self.dims.revision,
                "model_type": self.dims.model_type,
                "params": self.dims.params,
                "active_params": self.dims.active_params,
                "exact_params": self.dims.exact_params is not None,
                "hidden": self.dims.hidden,
                "layers": self.dims.layers,
                "vocab": self.dims.vocab,
                "experts": self.dims.experts,
                "experts_per_token": self.dims.experts_per_token,
                "vision_params": self.dims.vision.params if self.dims.vision else 0,
            },
            "target": {
                "name": self.target.name,
                "gpus": self.target.gpus * self.target.nodes,
                "limit_gb": round(self.limit / GB, 2),
                "limit": self.limit_label,
            },
            "setup": setup,
            "memory_gb": self.estimate.gb(),
            "paged_gb": self.paged_json(),
            "total_gb": round(self.estimate.total / GB, 2),
            "total_gb_range": [round(self.estimate.low / GB, 2), round(self.estimate.high / GB, 2)],
            "trainable_params": self.estimate.trainable,
            "fits": self.fits,
            "verdict": self.verdict,
            "headroom_gb": round(self.headroom / GB, 2),
            "recommendations": [
                {"change": r.change, "total_gb": round(r.estimate.total / GB, 2), "fits": r.fits}
                for r in self.recommendations
            ],
            "time": self.time,
            "disk_gb": {k: round(v / GB, 2) for k, v in self.disk.items()},
            "mixture": self.mixture,
            "notes": self.notes,
        }


def fit_check(spec: Spec, target: Target, *, network: bool = False, images: int | None = None) -> Plan:
    """Memory and verdict only (no data read): what `validate` uses (never the network)."""
    from axowrap.plan.objective import objective_terms

    dims = spec_dims(spec, network=network)
    setup = setup_from_spec(spec, target, images=images)
    est = estimate(dims, setup)
    extra, notes = objective_terms(spec, dims, setup, target)  # pairs, reference model, GRPO generation
    est.components.update(extra)
    limit, label = memory_limit(target)
    plan = Plan(spec, dims, target, setup, est, limit, label, notes=notes)
    if not plan.fits or plan.headroom < 0.1 * limit:
        # searched without the objective's terms, so they come off the budget the changes must fit
        plan.recommendations = recommend(dims, setup, limit - sum(extra.values()))
    plan.notes.extend(model_notes(dims, setup))
    return plan


def plan_spec(
    spec: Spec,
    target: Target | str | None = None,
    *,
    throughput: float | None = None,
    price: float | None = None,
    tokens: bool = True,
    images: int | None = None,
) -> Plan:
    """The full plan: memory, verdict, recommendations, time and cost from the data, disk."""
    from axowrap.config.speed import resolve
    from axowrap.plan.cost import checkpoint_count, disk, time_and_cost
    from axowrap.plan.cost import throughput as assumed

    tgt = spec.target(target)
    plan = fit_check(spec, tgt, network=True, images=images)
    plan.notes.extend(resolve(spec, tgt).notes)
    training = spec.data.get("training") or {}
    count: int | None = None
    rows = 0
    if tokens:
        count, rows, note, plan.mixture = _data_tokens(spec, plan.setup)
        plan.notes.append(note)
        ev = spec.data.get("eval") or {}
        if ev.get("holdout") and "holdout_file" not in ev and plan.mixture is None:  # held-out rows are not trained on
            count = round(count * (1 - float(ev["holdout"])))
            rows = round(rows * (1 - float(ev["holdout"])))
    epochs = int(training["epochs"])
    if training.get("max_steps") and rows and count is not None:
        per_step = plan.setup.micro_batch * plan.setup.grad_accum * max(1, plan.setup.gpus)
        epochs_float = training["max_steps"] * per_step / rows
        count = round(count * epochs_float)
        epochs = 1
    plan.time = time_and_cost(count, epochs, plan.setup, assumed(plan.dims, plan.setup, tgt, throughput), tgt, price)
    export = spec.data.get("export") or {}
    plan.disk = disk(
        plan.dims,
        plan.setup,
        plan.estimate,
        checkpoint_count(training, rows if tokens else None, plan.setup),
        list(export.get("gguf") or []),
        bool(export.get("merge")),
    )
    return plan


def _data_tokens(spec: Spec, setup: Setup) -> tuple[int, int, str, list[dict[str, Any]] | None]:
    """(tokens per epoch, rows, note, mixture) from the token check of the spec's datasets; with
    `weight:` the mixture's rows and tokens (held-out rows already taken out)."""
    from axowrap.data.check import check_spec_data

    report = check_spec_data(spec, tokens=True)
    total = rows = 0
    for ds in report.datasets:
        if ds.tokens:
            total += ds.tokens["tokens"]
            rows += ds.tokens["rows"]
    if report.mixture and all("tokens_in_mix" in m for m in report.mixture):
        total = sum(m["tokens_in_mix"] for m in report.mixture)
        rows = sum(m["rows_in_mix"] for m in report.mixture)
    notes = "; ".join(report.notes) or "no data"
    return total, rows, f"tokens per epoch from the data check: {notes}", report.mixture
