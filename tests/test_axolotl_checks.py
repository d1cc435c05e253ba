"""The static Axolotl checks, one whole message per kind (no Axolotl import: milliseconds).

tests/test_axolotl_referee.py proves each kind against the installed Axolotl; here the
messages, lines and severities are pinned.
"""

from __future__ import annotations

from pathlib import Path

from conftest import write
from helpers import run_cli

from axowrap.validate import validate_axolotl, validate_path
from axowrap.yamlio import parse_yaml

HEAD = "base_model: org/m\nlearning_rate: 0.0001\nmicro_batch_size: 1\ndatasets:\n  - path: d.jsonl\n    type: alpaca\n"


def check(text: str) -> list[str]:
    doc = parse_yaml(text, "c.yaml", yaml12_floats=False)
    return [p.render() for p in validate_axolotl(doc, axolotl="0.19.0").problems]


def test_nested_unknown_keys_with_axolotls_own_names() -> None:
    text = (
        HEAD
        + "fsdp_config:\n  fsdp_offload_paramz: true\n  sharding_strategy: FULL_SHARD\nspecial_tokens:\n  pad_tokn: x\n"
    )
    assert check(text) == [
        "c.yaml:8:3: error: fsdp_config.fsdp_offload_paramz: unknown fsdp_config key 'fsdp_offload_paramz'; "
        "did you mean 'offload_params'? (Axolotl would silently ignore it)",
        "c.yaml:9:3: error: fsdp_config.sharding_strategy: unknown fsdp_config key 'sharding_strategy' "
        "(Axolotl would silently ignore it)\n    hint: see `axowrap schema axolotl` for the known keys",
        "c.yaml:11:3: error: special_tokens.pad_tokn: unknown special_tokens key 'pad_tokn'; did you mean "
        "'pad_token'? (Axolotl would silently ignore it)",
    ]


def test_datasets_are_read_with_the_model_rl_picks() -> None:
    text = HEAD.replace("type: alpaca", "type: chat_template.default\n    roles: {user: [human]}") + "rl: dpo\n"
    assert check(text) == [
        "c.yaml:7:5: error: datasets[0].roles: unknown dataset (DPODataset, as rl: dpo reads it) key 'roles' "
        "(Axolotl would silently ignore it)\n    hint: see `axowrap schema axolotl` for the known keys"
    ]


def test_an_empty_unknown_key_only_warns() -> None:
    assert check(HEAD + "gptq_groupsize:\n") == [
        "c.yaml:7:1: warning: gptq_groupsize: unknown Axolotl key 'gptq_groupsize' (it is empty, so this changes nothing)"
    ]


def test_values_pydantic_converts_are_not_errors() -> None:
    text = HEAD.replace("micro_batch_size: 1", 'micro_batch_size: "2"') + 'num_epochs: "1"\nsample_packing: "yes"\n'
    text += "jagged_restart_anneal_steps: false\nlearning_rate_2: 1\n".replace("learning_rate_2: 1\n", "")
    assert [line for line in check(text) if ": error:" in line] == []
    assert check(HEAD.replace("learning_rate: 0.0001", "learning_rate: 2e-5")) == []


def test_duplicate_keys_in_a_raw_config() -> None:
    assert check(HEAD + "learning_rate: 0.01\nmicro_batch_size: 1\n") == [
        "c.yaml:7:1: error: learning_rate: duplicate key (first defined on line 2 with '0.0001'; this later "
        "'0.01' wins); YAML silently keeps only the last one\n    hint: remove one of the two",
        "c.yaml:8:1: warning: micro_batch_size: duplicate key (first defined on line 3 with the same value); "
        "YAML silently keeps only the last one\n    hint: remove one of the two",
    ]


def test_free_string_values_axolotl_fails_on() -> None:
    text = HEAD + "optimizer: adamw_bnb_8bitt\nlr_scheduler: cosin\nadapter: lorra\nattn_implementation: flash\n"
    assert check(text.replace("type: alpaca", "type: alpacca")) == [
        "c.yaml:9:1: error: adapter: 'lorra' is not an adapter Axolotl knows; Axolotl refuses the config; "
        "did you mean 'lora'?",
        "c.yaml:10:1: error: attn_implementation: Axolotl does not accept the short name 'flash'\n"
        "    hint: write `attn_implementation: flash_attention_2`",
        "c.yaml:6:5: error: datasets[0].type: 'alpacca' is not a dataset type Axolotl knows; data preparation "
        "fails ('unhandled prompt tokenization strategy'); did you mean 'alpaca'?",
        "c.yaml:8:1: error: lr_scheduler: 'cosin' is not a scheduler Axolotl knows; training fails at "
        "TrainingArguments; did you mean 'cosine'?",
        "c.yaml:7:1: error: optimizer: 'adamw_bnb_8bitt' is not an optimizer Axolotl knows; training fails at "
        "TrainingArguments; did you mean 'adamw_bnb_8bit'?",
    ]


def test_a_custom_loader_is_left_to_deep() -> None:
    assert check(HEAD.replace("type: alpaca", "type: my_project.prompts")) == []
    assert check(HEAD.replace("type: alpaca", "type: chat_template.defualt") + "rl: dpo\n") == [
        "c.yaml:6:5: error: datasets[0].type: 'chat_template.defualt' is not a dataset type for rl: dpo Axolotl "
        "knows; data preparation fails ('Failed to load dataset transform function', rl: dpo); did you mean "
        "'chat_template.default'?"
    ]


def test_deprecated_and_removed_keys_carry_axolotls_message() -> None:
    assert check(HEAD + "max_packed_sequence_len: 2048\ndpo_beta: 0.1\n") == [
        "c.yaml:8:1: warning: dpo_beta: Axolotl warns: dpo_beta is deprecated, use rl_beta instead",
        "c.yaml:7:1: error: max_packed_sequence_len: Axolotl refuses it: `max_packed_sequence_len` is no longer "
        "supported",
    ]


def test_keys_refused_together_and_cross_field_rules() -> None:
    assert check(HEAD + "warmup_steps: 10\nwarmup_ratio: 0.1\nearly_stopping_patience: 2\n") == [
        "c.yaml:9:1: error: early_stopping_patience: Axolotl refuses this: needs save_steps and eval_steps set, "
        "eval_steps dividing save_steps",
        "c.yaml:7:1: error: warmup_steps: Axolotl refuses warmup_ratio and warmup_steps together: warmup_steps "
        "and warmup_ratio are mutually exclusive\n    hint: remove warmup_ratio or warmup_steps",
    ]


def test_numbers_left_as_text_in_a_scheduler_mapping() -> None:
    text = HEAD + "lr_scheduler: cosine_with_min_lr\nlr_scheduler_kwargs:\n  min_lr: 1e-6\n"
    assert check(text) == [
        "c.yaml:9:3: error: lr_scheduler_kwargs.min_lr: '1e-6' stays a string here (YAML 1.1 reads it as text and "
        "Axolotl does not convert free-form mappings): the scheduler fails computing with it\n"
        "    hint: write it with a dot in the mantissa: 1.0e-6"
    ]
    # transformers itself converts cosine's num_cycles with float(): that one is fine as text
    assert check(HEAD + "lr_scheduler: cosine\nlr_scheduler_kwargs:\n  num_cycles: 5e-1\n") == []


def test_a_bundled_plugin_whose_fields_could_not_be_read_only_warns() -> None:
    text = HEAD + "plugins: [axolotl.integrations.llm_compressor.LLMCompressorPlugin]\nllmcompressor: {}\n"
    assert check(text) == [
        "c.yaml:8:1: warning: llmcompressor: unknown Axolotl key 'llmcompressor' (Axolotl would silently ignore "
        "it)\n    hint: see `axowrap schema axolotl` for the known keys",
        "c.yaml:7:1: warning: plugins: plugin 'axolotl.integrations.llm_compressor.LLMCompressorPlugin' is "
        "bundled with Axolotl 0.19.0, but its fields could not be read (ModuleNotFoundError: No module named "
        "'llmcompressor'); keys it adds cannot be checked, so unknown keys are only warnings",
    ]


def test_a_raw_key_replaces_the_rendered_keys_axolotl_refuses_beside_it(workdir: Path) -> None:
    from axowrap.config.render import render_spec
    from axowrap.validate import load_spec

    write(
        workdir / "s.yaml",
        "task: chat\nbase_model: org/m\ndatasets: [{path: examples/data/chat.jsonl}]\n"
        "axolotl: {save_steps: 3, warmup_steps: 5}\n",
    )
    rendered = render_spec(load_spec("s.yaml"))
    assert "saves_per_epoch" not in rendered.config and "warmup_ratio" not in rendered.config
    assert "# --- from the spec's `axolotl:` section (replacing the rendered saves_per_epoch, warmup_ratio)\n" in (
        rendered.text
    )
    assert validate_path(Path("s.yaml")).ok


def test_a_spec_section_is_checked_for_the_chosen_release(workdir: Path) -> None:
    write(
        workdir / "s.yaml",
        "task: chat\nbase_model: org/m\ndatasets: [{path: examples/data/chat.jsonl}]\n"
        "axolotl: {fsdp_config: {offload_paramz: true}}\n",
    )
    res = run_cli("validate", "s.yaml")
    assert res.code == 1
    assert res.out.startswith(
        "s.yaml:4:25: error: axolotl.fsdp_config.offload_paramz: unknown fsdp_config key 'offload_paramz'; "
        "did you mean 'offload_params'?"
    )
