"""The stop audit, for real: a correct run passes; each broken case, made with the real tools,
fails with the message naming the check and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_audit import copy_run

from axowrap.run.rundir import RunDir

pytestmark = pytest.mark.axolotl


def audit(run: RunDir, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "axowrap"), "audit", str(run.root), "--prompts", "8", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )


def recorded(run: RunDir) -> dict:
    return json.loads((run.root / "audit" / "audit.json").read_text(encoding="utf-8"))


def test_the_audit_passes_on_a_correct_run(stop_run: RunDir) -> None:
    done = audit(stop_run)
    assert done.returncode == 0, done.stderr
    result = recorded(stop_run)
    assert result["passed"] and result["format"] == "alpaca" and result["end_of_turn"] == {"</s>": 2}
    checks = result["checks"]
    assert {k: v["status"] for k, v in checks.items()} == {
        "rows": "passed",
        "merged": "passed",
        "modelfile": "passed",
        "gguf": "passed",
        "behaviour": "passed",
    }
    assert checks["rows"]["masked"] == 0 and checks["rows"]["trained_rows"] > 0
    assert checks["rows"]["format_rows"]["compared"] > 0 and checks["rows"]["format_rows"]["differ"] == 0
    assert checks["behaviour"]["hf:merged"]["stopped"] == checks["behaviour"]["hf:merged"]["of"] == 8
    assert 2 < checks["behaviour"]["hf:merged"]["mean_tokens"] < checks["behaviour"]["max_tokens"]
    assert checks["behaviour"]["max_tokens_from"].startswith("2 x the longest held-out answer")
    assert checks["behaviour"]["hf_verified_from"] == "gguf:f16"
    assert checks["behaviour"]["gguf:f16"]["stopped"] == 8 and checks["behaviour"]["gguf:f16"]["first_k_match"] == 8
    assert checks["gguf"]["files"]["f16"]["llama_cpp_eog"] == {"</s>": True}
    state = json.loads(stop_run.state.read_text(encoding="utf-8"))["steps"]["audit"]
    assert state["status"] == "done" and state["result"]["passed"] is True
    assert "### Stop audit" in stop_run.report.read_text(encoding="utf-8")
    assert "| behaviour | passed (hf:merged 8/8 stopped;" in done.stdout


def test_a_merged_generation_config_with_a_wrong_eos_fails(stop_run: RunDir, tmp_path: Path) -> None:
    run = copy_run(stop_run, tmp_path / "run")
    path = run.merged / "generation_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**config, "eos_token_id": 5}), encoding="utf-8")
    done = audit(run)
    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert first.startswith(
        "error: stop audit failed: merged: merged/generation_config.json: eos_token_id 5 does not include the "
        "end-of-turn token </s> (id 2): `generate`, vLLM and TGI will not stop where the model learned to"
    )
    # HF never meets its (wrong) EOS: it stops generating after STOP_AFTER answers ran to the limit
    limit = recorded(run)["checks"]["behaviour"]["max_tokens"]
    assert (
        f"behaviour: hf:merged: 3 of 3 answers did not end by themselves within {limit} tokens (generation "
        "stopped there, 3 of 8 prompts asked: 3 such answers fail the check)" in first
    )
    assert "set eos_token_id in merged/generation_config.json and config.json" in done.stderr
    assert recorded(run)["checks"]["gguf"]["status"] == "passed"  # the GGUF was converted before the damage


def test_a_gguf_whose_eos_metadata_was_rewritten_fails(stop_run: RunDir, tmp_path: Path) -> None:
    run = copy_run(stop_run, tmp_path / "run")
    gguf = next(run.gguf.glob("*-f16.gguf"))
    rewritten = gguf.with_suffix(".new")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gguf.scripts.gguf_new_metadata",
            "--special-token-by-id",
            "eos",
            "5",
            str(gguf),
            str(rewritten),
        ],
        check=True,
        capture_output=True,
    )
    rewritten.replace(gguf)
    done = audit(run)
    assert done.returncode == 1
    assert (
        f"gguf: {gguf.name}: tokenizer.ggml.eos_token_id is 5, the HF tokenizer's EOS is 2 ('</s>'): "
        "llama.cpp and Ollama stop on the wrong token" in done.stderr
    )
    assert "convert the merged model again (`axowrap gguf RUN --force`)" in done.stderr
    assert recorded(run)["checks"]["merged"]["status"] == "passed"


def test_a_modelfile_without_the_stop_fails(stop_run: RunDir, tmp_path: Path) -> None:
    run = copy_run(stop_run, tmp_path / "run")
    modelfile = run.serve / "Modelfile"
    text = modelfile.read_text(encoding="utf-8")
    assert 'PARAMETER stop "</s>"' in text
    modelfile.write_text(text.replace('PARAMETER stop "</s>"\n', ""), encoding="utf-8")
    done = audit(run)
    assert done.returncode == 1
    assert "modelfile: Modelfile: no `PARAMETER stop` for the end-of-turn token '</s>'" in done.stderr
    assert "write it again with `axowrap gguf RUN --force`" in done.stderr


def test_a_chatml_modelfile_for_a_raw_prompt_run_fails(stop_run: RunDir, tmp_path: Path) -> None:
    """What axowrap used to write for the sql task: a ChatML TEMPLATE for a raw-prompt model."""
    from axowrap.serve.modelfile import FAMILIES

    run = copy_run(stop_run, tmp_path / "run")
    chatml = next(f for f in FAMILIES if f.name == "chatml")
    modelfile = run.serve / "Modelfile"
    text = modelfile.read_text(encoding="utf-8")
    start, end = text.index('TEMPLATE """'), text.index('"""\n', text.index('TEMPLATE """') + 12) + 4
    modelfile.write_text(text[:start] + f'TEMPLATE """{chatml.template}"""\n' + text[end:], encoding="utf-8")
    assert "<|im_start|>" in modelfile.read_text(encoding="utf-8")
    done = audit(run)
    assert done.returncode == 1
    assert "modelfile: Modelfile has a TEMPLATE that does not render the prompt training used" in done.stderr


def test_an_end_of_turn_token_masked_in_the_training_rows_fails(tiny_model: Path, tmp_path: Path) -> None:
    """Axolotl #3754, for real: a ChatML chat dataset on a tokenizer whose EOS is `</s>`; with
    no `eot_tokens`, Axolotl labels the EOS (absent from the template) and leaves `<|im_end|>`
    masked. The prepared rows come from Axolotl's own preprocess."""
    import shutil

    from conftest import EXAMPLES

    from axowrap.run.pipeline import prepare_run

    (tmp_path / "data").mkdir()
    shutil.copy2(EXAMPLES / "data" / "chat.jsonl", tmp_path / "data" / "chat.jsonl")
    spec = tmp_path / "chat.yaml"
    spec.write_text(
        f"task: chat\nbase_model: {tiny_model}\ndatasets: [{{path: data/chat.jsonl}}]\n"
        "training: {max_steps: 1, sequence_len: 512}\neval: {holdout: null}\nexport: {gguf: null}\n"
        "compute: {target: cpu}\n",
        encoding="utf-8",
    )
    run = prepare_run(spec, tmp_path / "runs")
    subprocess.run(
        [sys.executable, "-m", "axolotl.cli.preprocess", str(run.config)],
        check=True,
        capture_output=True,
        cwd=run.root,
    )
    done = audit(run)
    assert done.returncode == 1
    rows = recorded(run)["checks"]["rows"]
    assert rows["masked"] == rows["trained_rows"] > 0
    assert (
        f"rows: {rows['masked']} of {rows['trained_rows']} prepared rows have a trained answer whose end-of-turn "
        "token <|im_end|> is masked (label -100): the model never learns to stop" in done.stderr
    )
    assert "set `eot_tokens` to the template's end-of-turn token" in done.stderr
