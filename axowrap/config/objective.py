"""The Axolotl keys of a training objective (axowrap.objectives): `rl:` or `reward_model:`, the
dataset entry for the rows the run directory writes in the trainer's shape (objectives/rows.py),
the objective's strength, and GRPO's `trl:` section (rewards, generations, generation backend).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from axowrap.objectives import VLLM_PORT, VLLM_SHARE, Objective, objective_of
from axowrap.targets import Target

if TYPE_CHECKING:
    from axowrap.spec.model import Spec

# The Axolotl dataset `type` that reads each objective's trainer rows (None: the rows go to
# TRL as they are).
DATASET_TYPE: dict[str, str | None] = {
    "dpo": "chat_template.default",
    "ipo": "chat_template.default",
    "simpo": "chat_template.default",
    "orpo": "chat_template.argilla",
    "reward-model": "bradley_terry.chat_template",
    "kto": None,
    "grpo": None,
}


def spec_objective(spec: Spec) -> Objective:
    return objective_of(spec.preset)


def trainer_dataset(objective: Objective) -> dict[str, Any]:
    """The part of a dataset entry that names how Axolotl reads the trainer rows."""
    kind = DATASET_TYPE[objective.name]
    return {"type": kind} if kind else {}


def objective_keys(spec: Spec, target: Target) -> dict[str, Any]:
    """Top-level keys of the objective, for the `# --- data` and `# --- training` sections."""
    objective = spec_objective(spec)
    tr = spec.data["training"]
    beta = float(tr["beta"]) if "beta" in tr else None
    out: dict[str, Any] = {}
    if objective.name in ("dpo", "ipo", "kto", "simpo") and beta is not None:
        out["rl_beta"] = beta
    if objective.name == "orpo" and beta is not None:
        out["orpo_alpha"] = beta
    if objective.name == "simpo":
        # Axolotl passes `simpo_gamma` to TRL's CPOConfig even when unset (None); SimPO's target
        # margin is 0.5 in its paper, and cpo_alpha 0 keeps the loss SimPO's (no extra NLL term).
        out["simpo_gamma"] = 0.5
        out["cpo_alpha"] = 0.0
    if objective.name == "kto":
        # The KTO rows are conversations (TRL applies the chat template); Axolotl's length filter
        # tokenizes `prompt` as text and fails on a list, so it is skipped (TRL truncates to
        # max_length = sequence_len itself), and the label column must reach the trainer.
        out["skip_prepare_dataset"] = True
        out["remove_unused_columns"] = False
    if objective.name == "reward-model":
        out["pad_to_sequence_len"] = True  # Axolotl's recommendation for reward models
    if objective.name == "grpo":
        out["trl"] = grpo_trl(spec, target, beta)
        if not target.is_cpu:
            out["vllm"] = {
                "host": "127.0.0.1",
                "port": VLLM_PORT,
                "gpu_memory_utilization": VLLM_SHARE,
                "max_model_len": int(tr["sequence_len"]),
            }
    return out


def grpo_trl(spec: Spec, target: Target, beta: float | None) -> dict[str, Any]:
    """GRPO's `trl:` section: reward functions and weights, group size, completion length, and
    the generation backend (TRL's own generate on CPU; a vLLM server beside training on GPUs)."""
    from axowrap.objectives.rewards import reward_path

    tr = spec.data["training"]
    rewards = spec.data.get("rewards") or {}
    trl: dict[str, Any] = {
        "beta": beta or 0.0,
        "num_generations": int(tr["generations"]),
        "max_completion_length": int(tr["completion_len"]),
        "reward_funcs": [reward_path(name) for name in rewards],
        "reward_weights": [float(w) for w in rewards.values()],
        "log_completions": False,
    }
    if target.is_cpu:
        trl["use_vllm"] = False
    else:
        trl.update(use_vllm=True, vllm_mode="server", vllm_server_host="127.0.0.1", vllm_server_port=VLLM_PORT)
    return trl


def warmup(spec: Spec, objective: Objective) -> dict[str, Any]:
    """The warmup keys: SimPO's trainer in Axolotl 0.19.0 refuses warmup_ratio (steps instead)."""
    tr = spec.data["training"]
    ratio = float(tr["warmup_ratio"])
    if objective.name != "simpo":
        return {"warmup_ratio": ratio}
    steps = math.ceil(ratio * int(tr["max_steps"])) if "max_steps" in tr else 0
    return {"warmup_steps": steps}
