"""Memory a training objective adds beyond memory.py's terms (axowrap.objectives), per GPU.

memory.py already counts the objective through `Setup.rl`: a preference pair's two sequences
(`Setup.tokens`) and GRPO's in-process generation (`generation_bytes`). This adds:

- a reference model: Axolotl 0.19.0 loads a second, frozen copy of the weights for every `rl:`
  but ORPO when the whole model trains (`method: full`, axolotl/train.py
  `setup_reference_model`); with an adapter the reference is the same base with the adapter
  switched off (no memory, one more forward pass);
- GRPO on GPU targets: the vLLM server generating beside training takes its share of one GPU's
  memory (objectives.VLLM_SHARE, rendered as `vllm.gpu_memory_utilization`).
"""

from __future__ import annotations

from axowrap.objectives import VLLM_SHARE, keeps_reference, objective_of
from axowrap.plan.dims import Dims
from axowrap.plan.memory import GB, Setup, weight_bytes
from axowrap.spec.model import Spec
from axowrap.targets import Target


def objective_terms(spec: Spec, dims: Dims, setup: Setup, target: Target) -> tuple[dict[str, float], list[str]]:
    """({component: bytes per GPU}, notes) that the spec's objective adds."""
    objective = objective_of(spec.preset)
    tr = spec.data["training"]
    terms: dict[str, float] = {}
    notes: list[str] = []
    if objective.pairs:
        notes.append(f"{objective.name}: chosen and rejected go through together, twice the tokens of a micro batch")
    if objective.rl and objective.name != "orpo" and not setup.adapter:
        terms["reference_model"] = weight_bytes(dims, setup)
        notes.append(f"{objective.name}, full fine-tuning: Axolotl loads a frozen copy of the weights as reference")
    elif keeps_reference(objective, tr.get("beta")):
        notes.append(f"{objective.name}: the reference is the base with the adapter off (no memory, one more forward)")
    if objective.name == "grpo" and setup.vllm:
        terms["vllm_server"] = VLLM_SHARE * target.vram_gb * GB
        notes.append(
            f"grpo: a vLLM server generates beside training and takes {VLLM_SHARE:g} of one GPU"
            f" ({VLLM_SHARE * target.vram_gb:.1f} GB); start it with `axolotl vllm-serve CONFIG`"
        )
    elif objective.name == "grpo":
        notes.append(
            f"grpo: TRL generates {setup.micro_batch * setup.grad_accum} completions of up to"
            f" {setup.completion_len} tokens at once, in training (no vLLM on CPU)"
        )
    return terms, notes
