"""Training objectives beyond supervised fine-tuning: what each one is in Axolotl 0.19.0.

This module is the table (which `rl:` value or `reward_model`, which rows, whether a
reference model is kept, how packing applies); rows.py turns a spec dataset's rows into the
rows the objective's trainer reads, and trainer_data.py writes them for a run directory (GRPO's
prompts built by the eval's prompt builder); rewards.py holds GRPO's built-in reward functions
(the eval's own metrics); probe.py runs reward functions on real rows for `validate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axowrap.spec.presets import Preset


@dataclass(frozen=True)
class Objective:
    name: str  # what cards and reports call it
    title: str  # one line for people: what is optimized, by which trainer
    rl: str | None  # Axolotl's `rl:` value; None for supervised training and reward models
    formats: tuple[str, ...]  # spec data formats it trains on
    reference: bool  # keeps a frozen reference policy (GRPO: only with a KL term, beta > 0)
    pairs: bool = False  # each row is two sequences, chosen and rejected

    @property
    def packs(self) -> bool:
        """Axolotl packs rows only for supervised training."""
        return self.name == "sft"


PREFERENCE = ("preference",)
OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("sft", "supervised fine-tuning (next-token loss on the answers)", None, (), False),
        Objective("dpo", "DPO: Direct Preference Optimization (TRL DPOTrainer)", "dpo", PREFERENCE, True, True),
        Objective("ipo", "IPO: Identity Preference Optimization (TRL DPOTrainer, loss_type ipo)", "ipo", PREFERENCE, True, True),
        Objective("simpo", "SimPO: Simple Preference Optimization, no reference model (TRL CPOTrainer)", "simpo", PREFERENCE, False, True),
        Objective("orpo", "ORPO: Odds Ratio Preference Optimization, no reference model (TRL ORPOTrainer)", "orpo", PREFERENCE, False, True),
        Objective("kto", "KTO: Kahneman-Tversky Optimization on unpaired labelled answers (TRL KTOTrainer)", "kto", ("kto",), True),
        Objective("reward-model", "reward model: a scalar scorer trained on preference pairs (Bradley-Terry, TRL RewardTrainer)", None, PREFERENCE, False, True),
        Objective("grpo", "GRPO: Group Relative Policy Optimization on sampled answers scored by reward functions (TRL GRPOTrainer)", "grpo", ("alpaca", "messages", "sharegpt"), False),
    )
}  # fmt: skip


def objective_of(preset: Preset, overrides: dict[str, Any] | None = None) -> Objective:
    """The objective a spec trains with: its preset's, or what its raw `axolotl:` keys switch on."""
    overrides = overrides or {}
    rl = overrides.get("rl", preset.rl)
    if isinstance(rl, str) and rl in OBJECTIVES:
        return OBJECTIVES[rl]
    if rl is None and (overrides.get("reward_model", preset.reward_model) is True):
        return OBJECTIVES["reward-model"]
    if rl is None:
        return OBJECTIVES["sft"]
    return Objective(str(rl), f"Axolotl rl: {rl}", str(rl), (), False)


def keeps_reference(objective: Objective, beta: float | None) -> bool:
    """Whether training keeps a frozen reference policy (GRPO only with a KL term)."""
    if objective.name == "grpo":
        return bool(beta)
    return objective.reference


# GRPO on GPU targets generates with a vLLM server (`axolotl vllm-serve CONFIG`) beside
# training: the share of one GPU's memory it takes (the plan leaves it out of training's
# budget) and its port on 127.0.0.1.
VLLM_SHARE = 0.3
VLLM_PORT = 8000
