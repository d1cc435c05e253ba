"""Did-you-mean: typos get the name they meant; removed or unrelated names get nothing (a wrong
suggestion is worse than none). The names are the 0.19.0 release's own (schema and tables)."""

from __future__ import annotations

import pytest

from axowrap.problems import did_you_mean
from axowrap.releases import schema, tables

S = schema("0.19.0")
T = tables("0.19.0")
TOP = list(S["properties"])
FSDP = list(S["$defs"]["FSDPConfig"]["properties"])
SFT = list(S["$defs"]["SFTDataset"]["properties"])
OPTIMIZERS = T["optimizers"]["transformers"] + T["optimizers"]["axolotl"]
SCHEDULERS = T["lr_schedulers"]["transformers"] + T["lr_schedulers"]["axolotl"]
TYPES = T["dataset_types"]["sft"] + T["dataset_types"]["sft_handlers"]

TYPOS = [
    ("lora_rr", TOP, "lora_r"),
    ("learning_rat", TOP, "learning_rate"),
    ("micro_batch", TOP, "micro_batch_size"),
    ("gradient_acumulation_steps", TOP, "gradient_accumulation_steps"),
    ("sequence_length", TOP, "sequence_len"),
    ("adam_eps", TOP, "adam_epsilon"),
    ("context_parapllel_size", TOP, "context_parallel_size"),
    ("lora_alpah", TOP, "lora_alpha"),
    ("offload_paramz", FSDP, "offload_params"),
    ("adamw_bnb_8bitt", OPTIMIZERS, "adamw_bnb_8bit"),
    ("cosin", SCHEDULERS, "cosine"),
    ("lorra", T["adapters"]["builtin"], "lora"),
    ("loar", T["adapters"]["builtin"], "lora"),
    ("alpacca", TYPES, "alpaca"),
    ("chat_templates", TYPES, "chat_template"),
    ("completions", TYPES, "completion"),
    ("h100", ["cpu", "h100-80gb", "h200-141gb"], "h100-80gb"),
]
# Keys Axolotl removed long ago (in its own examples) and names near several others.
NONE = [
    ("eta_min", TOP),
    ("gptq_groupsize", TOP),
    ("torch_dtype", TOP),
    ("sample_packing_seq_len_multiplier", TOP),
    ("base_model_ignore_patterns", TOP),
    ("gptq_model_v1", TOP),
    ("test_value", TOP),
    ("limit_all_gathers", FSDP),
    ("sharding_strategy", FSDP),
    ("step_separator", SFT),
    ("adamw", OPTIMIZERS),  # begins adamw_torch, adamw_8bit, ...: no single answer
]


@pytest.mark.parametrize(("word", "choices", "meant"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_gets_what_it_meant(word: str, choices: list[str], meant: str) -> None:
    assert did_you_mean(word, choices) == meant


@pytest.mark.parametrize(("word", "choices"), NONE, ids=[n[0] for n in NONE])
def test_a_removed_or_unrelated_name_gets_no_suggestion(word: str, choices: list[str]) -> None:
    assert did_you_mean(word, choices) is None
