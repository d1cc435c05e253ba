"""The gguf step for real on the tiny merged model: f16 + q8_0 + q4_k_m, each loaded in llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from axowrap.run.rundir import RunDir

pytestmark = [pytest.mark.axolotl, pytest.mark.slow]


def test_every_requested_gguf_is_written_and_passes_its_smoke_test(gguf_run: tuple[RunDir, dict[str, Any]]) -> None:
    from conftest_export import GGUF_TYPES

    run, result = gguf_run
    assert list(result["files"]) == GGUF_TYPES
    for t, info in result["files"].items():
        path = Path(info["path"])
        assert path.parent == run.gguf and path.name.endswith(f"-{t}.gguf")
        assert path.read_bytes()[:4] == b"GGUF"
        smoke = info["smoke"]
        assert smoke["ok"], smoke
        assert smoke["tokenization"]["mismatches"] == []
        assert smoke["generation"]["tokens"] >= 1
        assert info["fallback_tensors"] == 0  # hidden/intermediate 256: k-quants fit
    assert not list(run.gguf.glob("*.partial")) and not (run.gguf / ".convert-input").exists()
    json.dumps(result)


def test_f16_logits_match_the_merged_model_and_quantized_ones_are_smaller(
    gguf_run: tuple[RunDir, dict[str, Any]],
) -> None:
    _, result = gguf_run
    files = result["files"]
    f16 = files["f16"]["smoke"]["logits"]
    assert f16["judged"] and f16["max_abs_diff"] <= f16["tolerance"] and f16["top1_match"]
    assert not files["q4_k_m"]["smoke"]["logits"]["judged"]  # recorded, not judged
    assert files["q4_k_m"]["bytes"] < files["q8_0"]["bytes"] < files["f16"]["bytes"]


def test_gguf_metadata_marks_chatml_markers_as_control_tokens(gguf_run: tuple[RunDir, dict[str, Any]]) -> None:
    """transformers 5 keeps added tokens in tokenizer.json only; the converter must still see them."""
    from gguf import GGUFReader

    _, result = gguf_run
    reader = GGUFReader(result["files"]["f16"]["path"])
    field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(field.parts[i][0]) for i in field.data]
    assert types[4] == types[5] == 3  # <|im_start|>, <|im_end|>: CONTROL


def test_report_and_serving_files(gguf_run: tuple[RunDir, dict[str, Any]]) -> None:
    run, result = gguf_run
    report = result["report"]
    for t in ("f16", "q8_0", "q4_k_m"):
        assert f"-{t}.gguf" in report
    assert "| match |" in report
    # the sql task trains on its raw prompt: the Modelfile serves that, not the tokenizer's ChatML
    assert result["serve"]["gguf"] == "q4_k_m" and result["serve"]["template"] == "the training prompt (alpaca)"
    modelfile = (run.serve / "Modelfile").read_text()
    assert 'TEMPLATE """{{ if .System }}### Database schema:\n{{ .System }}\n' in modelfile
    assert "<|im_start|>" not in modelfile and 'PARAMETER stop "</s>"' in modelfile.splitlines()
    assert modelfile.splitlines()[1] == "FROM ../gguf/" + Path(result["files"]["q4_k_m"]["path"]).name
    assert (run.serve / modelfile.splitlines()[1].split(" ", 1)[1]).resolve() == Path(result["files"]["q4_k_m"]["path"])
    readme = (run.serve / "README.md").read_text()
    assert f"vllm serve {run.merged} " in readme
    assert f"python -m llama_cpp.server --model {result['files']['q4_k_m']['path']} --host 127.0.0.1" in readme
    assert f"cd {run.serve}\nollama create " in readme
    # the raw prompt goes to /v1/completions; no command sends it to the chat endpoint (the README
    # names that endpoint only to say why not)
    assert "curl -s http://127.0.0.1:8080/v1/completions" in readme
    assert "curl -s http://127.0.0.1:8080/v1/chat/completions" not in readme
    assert "/v1/chat/completions -H" not in readme
