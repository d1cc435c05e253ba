"""Memory a training objective adds to supervised training's (axowrap.objectives), per GPU.

- pairs (DPO, IPO, SimPO, ORPO, reward models): chosen and rejected go through the model in
  one batch, so a micro batch holds twice the sequences: one more set of activations.
- a reference model: Axolotl 0.19.0 loads a second, frozen copy of the weights for every `rl:`
  but ORPO when the whole model trains (`method: full`); with an adapter the reference is
  the same base with the adapter switched off (no memory, one more forward pass).
- GRPO's generations: on CPU, TRL generates micro_batch x gradient_accumulation_steps
  completions at once inside training, holding a KV cache for prompt + completion; on GPU a
  vLLM server beside training takes its share of one GPU's memory (objectives.VLLM_SHARE).
"""

from __future__ import annotations

from axowrap.objectives import VLLM_SHARE, keeps_reference, objective_of
from axowrap.plan.families import Dims
from axowrap.plan.memory import GB, Setup, activation_bytes, weight_bytes
from axowrap.spec.model import Spec
from axowrap.targets import Target


def objective_terms(spec: Spec, dims: Dims, setup: Setup, target: Target) -> tuple[dict[str, float], list[str]]:
    """({component: bytes per GPU}, notes) that the spec's objective adds."""
    objective = objective_of(spec.preset)
    tr = spec.data["training"]
    terms: dict[str, float] = {}
    notes: list[str] = []
    if objective.pairs:
        terms["pair_activations"] = activation_bytes(dims, setup)
        notes.append(f"{objective.name}: chosen + rejected per row, twice the activations of a micro batch")
    if objective.rl and objective.name != "orpo" and not setup.adapter:
        terms["reference_model"] = weight_bytes(dims, setup)
        notes.append(f"{objective.name}, full fine-tuning: Axolotl loads a frozen copy of the weights as reference")
    elif keeps_reference(objective, tr.get("beta")):
        notes.append(f"{objective.name}: the reference is the base with the adapter off (no memory, one more forward)")
    if objective.name == "grpo":
        completions = int(tr["completion_len"])
        if target.is_cpu:
            batch = setup.micro_batch * setup.grad_accum
            width = 4 if setup.bits == 32 else 2
            tokens = batch * (setup.sequence_len + completions)
            terms["generation_kv_cache"] = float(tokens * dims.layers * 2 * dims.kv_dim * width)
            notes.append(
                f"grpo: TRL generates {batch} completions of up to {completions} tokens at once (no vLLM on CPU)"
            )
        else:
            terms["vllm_server"] = VLLM_SHARE * target.vram_gb * GB
            notes.append(
                f"grpo: a vLLM server generates beside training and takes {VLLM_SHARE:g} of one GPU"
                f" ({VLLM_SHARE * target.vram_gb:.1f} GB); start it with `axolotl vllm-serve CONFIG`"
            )
    return terms, notes
