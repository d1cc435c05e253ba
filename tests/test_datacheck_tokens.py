"""Token statistics with the real tokenizer of a local base model (the tiny Llama fixture)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from axowrap.cli.data import check_source
from axowrap.config.render import DEFAULT_PROMPT

REPO = Path(__file__).resolve().parent.parent


def spec_for(folder: Path, model: Path, task: str, data: str, extra: str = "") -> Path:
    shutil.copytree(REPO / "examples" / "data", folder / "data", dirs_exist_ok=True)
    spec = folder / f"{task}.yaml"
    spec.write_text(f"task: {task}\nbase_model: {model}\ndatasets: [{{path: data/{data}}}]\n{extra}", encoding="utf-8")
    return spec


@pytest.mark.slow
def test_alpaca_token_stats_match_the_tokenizer(tmp_path: Path, tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    spec = spec_for(tmp_path, tiny_model, "instruct", "instruct.jsonl", "training: {sequence_len: 64}\n")
    report = check_source(spec)
    t = report.datasets[0].tokens
    assert t["tokenizer"] == str(tiny_model)
    assert f"token counts use the base model's tokenizer ({tiny_model})" in report.notes
    tok = AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True)
    rows = [json.loads(line) for line in (tmp_path / "data" / "instruct.jsonl").read_text().splitlines()]
    lengths, learn = [], []
    for r in rows:
        prompt = DEFAULT_PROMPT.replace("{instruction}", r["instruction"]).replace("{input}", r["input"])
        p = len(tok(prompt)["input_ids"])
        o = len(tok(r["output"], add_special_tokens=False)["input_ids"])
        lengths.append(p + o + 1)
        learn.append(o + 1 if p + o + 1 <= 64 else max(0, 64 - p))
    lengths.sort()
    assert (t["rows"], t["tokens"], t["max"]) == (60, sum(lengths), lengths[-1])
    assert t["p50"] == lengths[29]
    assert t["rows_over_sequence_len"] == sum(1 for n in lengths if n > 64)
    assert t["truncated_token_share"] == round(sum(max(0, n - 64) for n in lengths) / sum(lengths), 4)
    assert t["trainable_token_fraction"] == round(sum(learn) / sum(lengths), 4)
    assert t["zero_trainable_rows"] == sum(1 for x in learn if x == 0) and t["zero_trainable_rows"] > 0
    assert t["sample"]["text"].endswith(rows[0]["output"] + "</s>")
    assert t["sample"]["eos"] == "yes: Axolotl appends '</s>' after alpaca outputs"


@pytest.mark.slow
def test_chat_sample_renders_the_template_and_checks_eos(tmp_path: Path, tiny_model: Path) -> None:
    spec = spec_for(tmp_path, tiny_model, "chat", "chat.jsonl")
    t = check_source(spec).datasets[0].tokens
    assert t["sample"]["text"].startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    )
    # the tiny model's EOS is </s>, but ChatML ends turns with <|im_end|>: the check says so
    assert t["sample"]["eos"].startswith(
        "no: the template ends assistant turns with '<|im_end|>', not the EOS token '</s>'"
    )
    assert 0 < t["trainable_token_fraction"] < 1 and t["rows"] == 60


def test_approximation_is_stated_without_a_local_model(workdir: Path) -> None:
    report = check_source(workdir / "examples" / "chat.yaml")
    t = report.datasets[0].tokens
    assert t["tokenizer"] == "approximate"
    assert any("approximate (4 characters per token" in n for n in report.notes)
    text = (workdir / "examples" / "data" / "chat.jsonl").read_text().splitlines()[0]
    turns = json.loads(text)["messages"]
    assert t["sample"]["text"].startswith(f"system: {turns[0]['content']}")
