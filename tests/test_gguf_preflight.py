"""GGUF preflight at validate time: read the local base model's files, before any training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_spec
from helpers import run_cli

from axowrap.rules import gguf as preflight

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 256,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "vocab_size": 512,
    "torch_dtype": "float32",
}


def local_model(folder: Path, **changes: Any) -> Path:
    """A base-model folder as preflight sees it: config.json, tokenizer.json, weights of a real size."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({**CONFIG, **changes}))
    vocab = {f"t{i}": i for i in range(510)}
    (folder / "tokenizer.json").write_text(
        json.dumps(
            {
                "model": {"type": "BPE", "vocab": vocab},
                "added_tokens": [{"id": 510, "content": "<|im_start|>"}, {"id": 511, "content": "<|im_end|>"}],
            }
        )
    )
    (folder / "model.safetensors").write_bytes(b"\0" * 4_000_000)
    return folder


def gguf_problems(tmp_path: Path, **changes: Any) -> list[dict[str, Any]]:
    spec = tiny_spec(tmp_path / "spec", local_model(tmp_path / "base", **changes))
    res = run_cli("validate", "--json", str(spec))
    return [p for p in json.loads(res.out)["files"][0]["problems"] if p["path"] == "export.gguf"]


def test_a_supported_model_passes(tmp_path: Path) -> None:
    assert gguf_problems(tmp_path) == []


def test_unsupported_architecture_is_an_error_at_validate_time(tmp_path: Path) -> None:
    problems = gguf_problems(tmp_path, architectures=["TinyMagicForCausalLM"])
    assert [p["severity"] for p in problems] == ["error"]
    assert problems[0]["message"].startswith("the GGUF converter does not support architecture 'TinyMagicForCausalLM'")
    res = run_cli("validate", str(tmp_path / "spec" / "tiny.yaml"))
    assert res.code == 1


def test_k_quant_fallbacks_are_a_warning_with_the_tensor_count(tmp_path: Path) -> None:
    problems = gguf_problems(tmp_path, hidden_size=320)
    assert [p["severity"] for p in problems] == ["warning"]
    # 2 layers x 6 matrices reading hidden + embedding + output; down_proj reads intermediate (256): fine
    assert problems[0]["message"].startswith(
        "q4_k_m: 14 tensors have rows that are not a multiple of 256 (hidden_size 320"
    )


def test_vocab_larger_than_the_embedding_is_an_error(tmp_path: Path) -> None:
    problems = gguf_problems(tmp_path, vocab_size=500)
    assert [p["message"] for p in problems] == [
        "the tokenizer has 512 tokens but the embedding has 500 rows (config.json vocab_size)"
    ]


def test_missing_tokenizer_is_an_error(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "spec", local_model(tmp_path / "base"))
    (tmp_path / "base" / "tokenizer.json").unlink()
    res = run_cli("validate", "--json", str(spec))
    messages = [p["message"] for p in json.loads(res.out)["files"][0]["problems"] if p["path"] == "export.gguf"]
    assert any("has no tokenizer.model or tokenizer.json" in m for m in messages)


def test_not_enough_disk_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need = preflight.disk_needed(CONFIG, local_model(tmp_path / "m"), ["f16", "q8_0", "q4_k_m"])
    # merged (4 MB) + f16 (2 MB) + q8_0 + q4_k_m from 1M parameters
    assert need == int(4_000_000 + 1_000_000 * (16 + 8.5 + 4.89) / 8)
    shutil.rmtree(tmp_path / "m")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda _p: usage._replace(free=need - 1))
    problems = gguf_problems(tmp_path)
    assert [p["message"] for p in problems] == [
        f"the merged model and GGUF files need about 0.0 GB, but only 0.0 GB is free on {tmp_path / 'spec'}"
    ]


def test_hub_models_and_specs_without_gguf_are_left_alone(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "spec", local_model(tmp_path / "base", architectures=["TinyMagicForCausalLM"]))
    spec.write_text(spec.read_text().replace("gguf: [f16, q8_0, q4_k_m]", "gguf: []"))
    assert [
        p
        for p in json.loads(run_cli("validate", "--json", str(spec)).out)["files"][0]["problems"]
        if p["path"] == "export.gguf"
    ] == []
    hub = tiny_spec(tmp_path / "hub", Path("HuggingFaceTB/SmolLM2-135M"))
    assert [
        p
        for p in json.loads(run_cli("validate", "--json", str(hub)).out)["files"][0]["problems"]
        if p["path"] == "export.gguf"
    ] == []


def test_the_converter_architecture_list_is_read_from_its_source() -> None:
    archs = preflight.converter_architectures()
    assert (
        archs is not None and {"LlamaForCausalLM", "Qwen2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM"} <= archs
    )
