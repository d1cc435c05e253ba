"""Each objective trains for real: `axowrap run --steps train` through Axolotl 0.19.0 on the tiny
model, on CPU, a few steps each, with the loss logged and an adapter written.

GRPO samples with TRL's own generate (no vLLM on CPU) and is rewarded by SQL execution match on
a tiny SQLite database, its rewards logged per step. The reward model then scores the chosen
answer above the rejected one on its own training pairs. The rows are real pairs and labelled
answers from examples/data, shortened so a sequence fits the tiny model's short window.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import write
from helpers import run_cli

from axowrap.run.pipeline import run_dir_for

pytestmark = pytest.mark.axolotl
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"
SPEC = """\
task: {task}
base_model: {model}
datasets: [{{path: {data}}}]
training: {{max_steps: {steps}, micro_batch_size: {batch}, gradient_accumulation_steps: 1, sequence_len: 256,
           save_steps: {steps}{extra}}}
eval: {{holdout: null{database}}}
export: {{merge: false, gguf: null}}
compute: {{target: cpu}}
"""


def _short(value, n: int = 160):
    """The row with every text cut to `n` characters (the tiny model's window is short)."""
    if isinstance(value, str):
        return value[:n]
    if isinstance(value, list):
        return [_short(v, n) for v in value]
    if isinstance(value, dict):
        return {k: _short(v, n) for k, v in value.items()}
    return value


def _rows(name: str, n: int) -> list[dict]:
    return [_short(json.loads(line)) for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines()[:n]]


def _train(folder: Path, task: str, model: Path, data: str, rows: list[dict], **kw) -> tuple[Path, list[dict]]:
    write(folder / data, "".join(json.dumps(r) + "\n" for r in rows))
    text = SPEC.format(
        task=task,
        model=model,
        data=data,
        steps=kw.get("steps", 2),
        batch=kw.get("batch", 2),
        extra=kw.get("extra", ""),
        database=kw.get("database", ""),
    )
    spec = write(folder / f"{task}.yaml", text + kw.get("more", ""))
    res = run_cli("run", str(spec), "--steps", "train", "--json", "--runs-dir", str(folder / "runs"))
    assert res.code == 0, res.err + res.out[-3000:]
    events = [json.loads(line) for line in res.out.splitlines()]
    run = run_dir_for(spec, task, folder / "runs")
    assert (run.adapter / "adapter_model.safetensors").is_file()
    metrics = [e for e in events if e.get("event") == "metrics"]
    assert [e["step"] for e in metrics] == list(range(1, kw.get("steps", 2) + 1))
    assert all(isinstance(e.get("loss"), float) for e in metrics)
    return run.root, metrics


@pytest.mark.parametrize("task", ["dpo", "ipo", "simpo", "orpo"])
def test_preference_objectives_train(task: str, tiny_model: Path, tmp_path: Path) -> None:
    rows = _rows("orpo.jsonl" if task == "orpo" else "dpo.jsonl", 8)
    if task != "orpo":  # ShareGPT-style rows (from/value, human/gpt): the run directory converts them
        rows = [r for r in _rows("dpo.jsonl", 12) if len(r["conversations"]) <= 2][:8]
    root, metrics = _train(tmp_path, task, tiny_model, f"data/{task}.jsonl", rows)
    report = (root / "report.md").read_text()
    assert f"- objective: {task.upper() if task != 'simpo' else 'SimPO'}:" in report
    if task != "orpo":
        assert all("reward_margin" in e for e in metrics)  # TRL's rewards/margins, per step


def test_kto_trains_on_unpaired_labelled_answers(tiny_model: Path, tmp_path: Path) -> None:
    rows = _rows("kto.jsonl", 8)
    assert {r["label"] for r in rows} == {True, False}
    root, _ = _train(tmp_path, "kto", tiny_model, "data/kto.jsonl", rows)
    trained = [json.loads(line) for line in (root / "data" / "train-0.jsonl").read_text().splitlines()]
    assert set(trained[0]) == {"prompt", "completion", "label"}  # the shape TRL's KTOTrainer reads


def test_grpo_rewarded_by_sql_execution(tiny_model: Path, tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE item (name text, price integer, stock integer);"
            "INSERT INTO item VALUES ('pen', 2, 10), ('book', 12, 0), ('lamp', 30, 4), ('cup', 5, 25);"
        )
    conn.close()
    schema = "CREATE TABLE item (name text, price integer, stock integer);"
    qa = [
        ("Which items cost more than 10?", "SELECT name FROM item WHERE price > 10;"),
        ("How many items are there?", "SELECT COUNT(*) FROM item;"),
        ("Which items are out of stock?", "SELECT name FROM item WHERE stock = 0;"),
        ("What is the most expensive item?", "SELECT name FROM item ORDER BY price DESC LIMIT 1;"),
    ]
    rows = [{"question": q, "context": schema, "answer": a} for q, a in qa]
    root, metrics = _train(
        tmp_path,
        "grpo",
        tiny_model,
        "data/grpo.jsonl",
        rows,
        batch=4,
        extra=", generations: 4, completion_len: 16",
        database=", database: shop.sqlite",
        more="rewards: {exec_match: 1.0, sql_format: 0.5}\n",
    )
    for e in metrics:  # every step logs each reward's mean over its completions
        assert 0.0 <= e["reward/exec_match"] <= 1.0 and 0.0 <= e["reward/sql_format"] <= 1.0
        assert e["reward"] == pytest.approx(e["reward/exec_match"] + 0.5 * e["reward/sql_format"], abs=1e-3)
    report = (root / "report.md").read_text()
    assert "- reward: 1 x `exec_match` + 0.5 x `sql_format`" in report and "- mean reward per step: " in report
    trained = json.loads((root / "data" / "train-0.jsonl").read_text().splitlines()[0])
    assert trained["database"] == str(db.resolve()) and trained["prompt"].endswith("### SQL:\n")


def test_reward_model_scores_chosen_above_rejected(tiny_model: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = _rows("orpo.jsonl", 6)
    root, _ = _train(
        tmp_path, "reward-model", tiny_model, "data/rm.jsonl", rows, steps=24, extra=", learning_rate: 1.0e-3"
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1, torch_dtype=torch.float32)
    base.config.pad_token_id = tokenizer.pad_token_id
    model = PeftModel.from_pretrained(base, root / "adapter").eval()

    def score(prompt: str, answer: str) -> float:
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        with torch.no_grad():
            return float(model(**tokenizer(text, return_tensors="pt")).logits[0, 0])

    margins = [
        score(r["prompt"], r["chosen"][-1]["content"]) - score(r["prompt"], r["rejected"][-1]["content"]) for r in rows
    ]
    assert all(m > 0 for m in margins), margins
