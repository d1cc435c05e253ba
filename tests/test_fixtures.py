"""The shared tiny model and adapter fixtures are what later steps rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_tiny_model_tokenizer_and_dims(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["hidden_size"] == 256 and cfg["intermediate_size"] == 256
    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<s>", "</s>", "<pad>")
    assert tok.convert_tokens_to_ids("<|im_end|>") != tok.unk_token_id
    assert "<|im_start|>assistant\n" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )


@pytest.mark.slow
def test_tiny_adapter_trained_for_real(tiny_adapter: Path) -> None:
    state = json.loads((tiny_adapter / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2, 3, 4, 5, 6]
    assert json.loads((tiny_adapter / "adapter_config.json").read_text())["r"] == 16
