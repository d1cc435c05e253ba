"""Seeded mistakes: one valid Axolotl config and, per class, edits that Axolotl refuses, fails
on later, or silently reads otherwise than written. Each case names the key path where the
mistake is; tests/test_axolotl_referee.py proves each one with the installed Axolotl (the
referee must find it there) and measures what `validate` catches; bench/validation.py prints
the catch rates for BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE = """\
base_model: org/model
adapter: lora
lora_r: 8
lora_alpha: 16
lora_target_linear: true
datasets:
  - path: data.jsonl
    type: alpaca
sequence_len: 512
micro_batch_size: 2
gradient_accumulation_steps: 1
num_epochs: 1
learning_rate: 0.0002
optimizer: adamw_torch
lr_scheduler: cosine
output_dir: out
"""


@dataclass(frozen=True)
class Case:
    kind: str  # the class of mistake
    text: str  # the whole config
    path: tuple  # where the mistake is


def _set(key: str, value: str) -> str:
    """BASE with `key: value` replacing (or added to) the top level."""
    lines = [line for line in BASE.splitlines() if not line.startswith(f"{key}:")]
    return "\n".join(lines) + f"\n{key}: {value}\n"


def _add(extra: str) -> str:
    return BASE + extra


def _dataset(extra: str, type_: str = "alpaca") -> str:
    return BASE.replace("    type: alpaca\n", f"    type: {type_}\n{extra}")


FSDP = "fsdp_version: 2\nfsdp_config:\n  auto_wrap_policy: TRANSFORMER_BASED_WRAP\n"

CASES: list[Case] = [
    # keys Axolotl's nested models drop
    Case("nested unknown key", _add(FSDP + "  offload_paramz: true\n"), ("fsdp_config", "offload_paramz")),
    Case("nested unknown key", _add("special_tokens:\n  pad_tokn: <pad>\n"), ("special_tokens", "pad_tokn")),
    Case("nested unknown key", _add("trl:\n  num_generation: 4\n"), ("trl", "num_generation")),
    Case("nested unknown key", _dataset("    splitt: train\n"), ("datasets", 0, "splitt")),
    Case(
        "nested unknown key",
        BASE.replace(
            "    type: alpaca\n",
            "    type:\n      field_instructon: q\n      field_output: a\n      format: '{instruction}'\n",
        ),
        ("datasets", 0, "type", "field_instructon"),
    ),
    Case("nested unknown key", _add("vllm:\n  gpu_memory_utilisation: 0.8\n"), ("vllm", "gpu_memory_utilisation")),
    # top-level keys Axolotl drops
    Case("unknown key", _add("lora_rr: 16\n"), ("lora_rr",)),
    Case("unknown key", _add("learning_rat: 0.001\n"), ("learning_rat",)),
    Case("unknown key", _add("micro_batchsize: 4\n"), ("micro_batchsize",)),
    Case("unknown key", _add("gradient_acumulation_steps: 8\n"), ("gradient_acumulation_steps",)),
    Case("unknown key", _add("lora_alpah: 32\n"), ("lora_alpah",)),
    # duplicate keys: PyYAML keeps the last, silently
    Case("duplicate key", _add("learning_rate: 0.02\n"), ("learning_rate",)),
    Case("duplicate key", _add("lora_r: 64\n"), ("lora_r",)),
    Case("duplicate key", _add("num_epochs: 30\n"), ("num_epochs",)),
    Case("duplicate key", _add("micro_batch_size: 64\n"), ("micro_batch_size",)),
    Case("duplicate key", _add("optimizer: sgd\n"), ("optimizer",)),
    # optimizer values: TrainingArguments (or Axolotl's builder) refuses them at training time
    Case("optimizer", _set("optimizer", "adamw_bnb_8bitt"), ("optimizer",)),
    Case("optimizer", _set("optimizer", "adam"), ("optimizer",)),
    Case("optimizer", _set("optimizer", "sgdd"), ("optimizer",)),
    Case("optimizer", _set("optimizer", "adamw_torch_fuse"), ("optimizer",)),
    Case("optimizer", _set("optimizer", "ao_adamw_4bit"), ("optimizer",)),
    # lr_scheduler values
    Case("lr_scheduler", _set("lr_scheduler", "cosin"), ("lr_scheduler",)),
    Case("lr_scheduler", _set("lr_scheduler", "linear_warmup"), ("lr_scheduler",)),
    Case("lr_scheduler", _set("lr_scheduler", "cosine_annealing"), ("lr_scheduler",)),
    Case("lr_scheduler", _set("lr_scheduler", "onecycle"), ("lr_scheduler",)),
    Case("lr_scheduler", _set("lr_scheduler", "constant_warmup"), ("lr_scheduler",)),
    # adapter values: validate_config refuses them
    Case("adapter", _set("adapter", "lorra"), ("adapter",)),
    Case("adapter", _set("adapter", "loar"), ("adapter",)),
    Case("adapter", _set("adapter", "dora"), ("adapter",)),
    Case("adapter", _set("adapter", "qlora4"), ("adapter",)),
    Case("adapter", _set("adapter", "mora"), ("adapter",)),
    # dataset types: data preparation fails ("unhandled prompt tokenization strategy")
    Case("dataset type", _dataset("", "alpacca"), ("datasets", 0, "type")),
    Case("dataset type", _dataset("", "chat_templates"), ("datasets", 0, "type")),
    Case("dataset type", _dataset("", "sharegpt"), ("datasets", 0, "type")),
    Case("dataset type", _dataset("", "alpaca_chat.load_qaa"), ("datasets", 0, "type")),
    Case("dataset type", _dataset("", "completions"), ("datasets", 0, "type")),
    Case("dataset type", _dataset("", "alpaca:chatmll"), ("datasets", 0, "type")),
    # enumerations the schema holds: chat_template, rl, attention
    Case("enumerated value", _set("chat_template", "chatm"), ("chat_template",)),
    Case(
        "enumerated value",
        _dataset("    chat_template: chatmll\n", "chat_template"),
        ("datasets", 0, "chat_template"),
    ),
    Case("enumerated value", _set("chat_template", "llama_3"), ("chat_template",)),
    Case("enumerated value", _set("rl", "dpoo"), ("rl",)),
    Case("enumerated value", _set("attn_implementation", "flash"), ("attn_implementation",)),
    Case("enumerated value", _set("attn_implementation", "flash_attn"), ("attn_implementation",)),
    # removed keys Axolotl refuses with a DeprecationWarning (or a ValueError)
    Case("deprecated key", _add("max_packed_sequence_len: 2048\n"), ("max_packed_sequence_len",)),
    Case("deprecated key", _add("flash_attn_rms_norm: true\n"), ("flash_attn_rms_norm",)),
    Case("deprecated key", _add("rope_scaling:\n  type: linear\n  factor: 2.0\n"), ("rope_scaling",)),
    Case("deprecated key", _add("s2_attention: true\n"), ("s2_attention",)),
    Case("deprecated key", _add("unsloth_lora_mlp: true\n"), ("unsloth_lora_mlp",)),
    # numbers YAML 1.1 reads as text inside a mapping Axolotl passes on unconverted
    Case(
        "number as text in a mapping",
        _set("lr_scheduler", "cosine_with_min_lr") + "lr_scheduler_kwargs:\n  min_lr: 1e-6\n",
        ("lr_scheduler_kwargs", "min_lr"),
    ),
    Case(
        "number as text in a mapping",
        _set("lr_scheduler", "cosine_with_min_lr") + "lr_scheduler_kwargs:\n  min_lr_rate: 1e-1\n",
        ("lr_scheduler_kwargs", "min_lr_rate"),
    ),
    Case(
        "number as text in a mapping",
        _set("lr_scheduler", "polynomial") + "lr_scheduler_kwargs:\n  lr_end: 1e-7\n",
        ("lr_scheduler_kwargs", "lr_end"),
    ),
    Case(
        "number as text in a mapping",
        _set("lr_scheduler", "polynomial") + "lr_scheduler_kwargs:\n  power: 2e0\n",
        ("lr_scheduler_kwargs", "power"),
    ),
    Case(
        "number as text in a mapping",
        _set("lr_scheduler", "warmup_stable_decay")
        + "lr_scheduler_kwargs:\n  num_decay_steps: 2\n  min_lr_ratio: 1e-1\n",
        ("lr_scheduler_kwargs", "min_lr_ratio"),
    ),
    # Axolotl's cross-field rules
    Case("cross-field rule", _add("early_stopping_patience: 3\n"), ("early_stopping_patience",)),
    Case("cross-field rule", _add("save_strategy: best\n"), ("save_strategy",)),
    Case("cross-field rule", _set("adapter", "null") + "load_in_4bit: true\n", ("load_in_4bit",)),
    Case("cross-field rule", _add("save_strategy: epoch\nsave_steps: 10\n"), ("save_steps",)),
    Case("cross-field rule", _add("val_set_size: 0\neval_steps: 10\n"), ("val_set_size",)),
    Case("cross-field rule", _add(FSDP).replace("optimizer: adamw_torch", "optimizer: adamw_bnb_8bit"), ("optimizer",)),
    Case("cross-field rule", _add("chat_template: jinja\n"), ("chat_template",)),
    # keys Axolotl refuses together
    Case("keys refused together", _add("warmup_steps: 10\nwarmup_ratio: 0.1\n"), ("warmup_steps",)),
    Case("keys refused together", _add("save_steps: 10\nsaves_per_epoch: 2\n"), ("saves_per_epoch",)),
    Case(
        "keys refused together", _add("eval_steps: 10\nevals_per_epoch: 2\nval_set_size: 0.1\n"), ("evals_per_epoch",)
    ),
    Case("keys refused together", _add("batch_size: 8\n"), ("gradient_accumulation_steps",)),
    Case("keys refused together", _add("attn_implementation: sdpa\nflash_attention: true\n"), ("flash_attention",)),
    # types pydantic refuses
    Case("type", _set("lora_r", "abc"), ("lora_r",)),
    Case("type", _set("micro_batch_size", "1.5"), ("micro_batch_size",)),
    Case("type", _add("sample_packing: maybe\n"), ("sample_packing",)),
    Case("type", _add("warmup_steps: 0.1\n"), ("warmup_steps",)),
    Case("type", _add("tokens:\n  pad: <pad>\n"), ("tokens",)),
]
