"""The generated lm-eval task for every preset: prompts as training builds them, targets, task YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES

from axowrap.config.render import render_spec
from axowrap.data.readers import read_rows
from axowrap.evaluation.tasks import TASK_NAME, write_task
from axowrap.validate import load_spec

# A reward model is a scorer, not a language model: no lm-eval task (the rule `reward_model_eval` refuses it).
PRESET_SPECS = sorted(p.stem for p in EXAMPLES.glob("*.yaml") if p.stem != "reward-model")


def _task(workdir: Path, name: str, model: Path) -> tuple[dict, list[dict], list[dict], dict]:
    spec_path = workdir / "examples" / f"{name}.yaml"
    spec_path.write_text(spec_path.read_text().replace(yaml.safe_load(spec_path.read_text())["base_model"], str(model)))
    spec = load_spec(spec_path)
    config = render_spec(spec, base_dir=None).config
    source = spec.base_dir / spec.data["datasets"][0]["path"]
    rows = list(read_rows(source))[:3]
    held = workdir / "held.jsonl"
    held.write_text("".join(json.dumps(r) + "\n" for r in rows))
    files = write_task(workdir / "task", held, spec.data, config, max_gen_toks=8)
    task = yaml.load((files.folder / f"{TASK_NAME}.yaml").read_text(), Loader=_Loader)
    docs = [json.loads(line) for line in (files.folder / "docs.jsonl").read_text().splitlines()]
    return task, docs, rows, spec.data


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


@pytest.mark.axolotl
@pytest.mark.parametrize("name", PRESET_SPECS)
def test_task_for_every_preset(name: str, workdir: Path, tiny_model: Path) -> None:
    task, docs, rows, spec = _task(workdir, name, tiny_model)
    if name == "kto":  # scored on the answers labelled desirable
        rows = [r for r in rows if r["label"]]
    assert len(docs) == len(rows) and len(rows) >= 1
    data_file = Path(task["dataset_kwargs"]["data_files"]["test"])
    assert data_file.is_absolute() and data_file.is_file()
    metric = spec["eval"]["metric"]
    names = [m["metric"] for m in task["metric_list"]]
    if metric == "perplexity":
        assert task["output_type"] == "loglikelihood_rolling" and docs[0]["text"] == rows[0]["text"]
        return
    if metric == "preference_margin":
        assert task["output_type"] == "multiple_choice" and names == ["preference_accuracy", "preference_margin"]
        assert all(len(d["choices"]) == 2 and d["choices"][0] != d["choices"][1] for d in docs)
        assert docs[0]["prompt"].endswith("<|im_start|>assistant\n")  # the chat template's generation prompt
        return
    assert task["output_type"] == "generate_until" and task["process_results"] == "!function utils.process_generation"
    assert all(d["target"] for d in docs)
    fmt = spec["datasets"][0]["format"]
    if fmt in ("messages", "sharegpt"):
        # ChatML from the tokenizer, ending where the assistant's answer starts
        assert docs[0]["prompt"].startswith("<|im_start|>") and docs[0]["prompt"].endswith("<|im_start|>assistant\n")
        assert docs[0]["target"] not in docs[0]["prompt"]
    if metric == "tool_call_match":
        assert names == ["tool_call_match"]
        assert any('"name"' in d["target"] for d in docs)
    if metric == "accuracy":
        assert names == ["accuracy", "macro_f1"]
        assert task["metric_list"][1]["aggregation"] == "!function utils.macro_f1"


def _two_dataset_run(workdir: Path, model: Path, second: str) -> Path:
    from axowrap.run.pipeline import prepare_run

    spec = workdir / "examples" / "mixed.yaml"
    spec.write_text(f"""\
task: instruct
base_model: {model}
datasets:
  - {{path: data/instruct.jsonl, format: alpaca}}
  - {second}
training: {{sequence_len: 512}}
eval: {{holdout: 0.3}}
compute: {{target: cpu}}
""")
    return prepare_run(spec, workdir / "runs").data


@pytest.mark.axolotl
def test_held_out_rows_are_prompted_in_their_own_dataset_format(workdir: Path, tiny_model: Path) -> None:
    """Rows held out of an alpaca and of a chat dataset: each prompted the way it was trained."""
    from axowrap.data.split import holdout_sources

    data = _two_dataset_run(workdir, tiny_model, "{path: data/chat.jsonl, format: messages}")
    held = list(read_rows(data / "holdout.jsonl"))
    sources = holdout_sources(data, len(held))
    assert set(sources) == {0, 1} and sources == sorted(sources)
    spec = load_spec(workdir / "examples" / "mixed.yaml")
    config = render_spec(spec, base_dir=None).config
    files = write_task(workdir / "task", data / "holdout.jsonl", spec.data, config)
    docs = [json.loads(line) for line in (files.folder / "docs.jsonl").read_text().splitlines()]
    assert len(docs) == len(held)
    for doc, row, source in zip(docs, held, sources, strict=True):
        if source == 0:  # alpaca: Axolotl's prompter, the output is the target
            assert (
                row["instruction"] in doc["prompt"]
                and "### Instruction:" in doc["prompt"]
                and doc["target"] == row["output"]
            )
            assert "<|im_start|>" not in doc["prompt"]
            assert doc["question"] == row["instruction"]  # what an SQL answer's row order is judged by
        else:  # chat: the chat template up to the last assistant turn, which is the target
            assert doc["prompt"].endswith("<|im_start|>assistant\n") and doc["target"] == row["messages"][-1]["content"]
            assert row["messages"][-2]["content"] in doc["prompt"]
            last_user = [m["content"] for m in row["messages"][:-1] if m["role"] == "user"][-1]
            assert doc["question"] == last_user


@pytest.mark.axolotl
def test_held_out_rows_of_different_kinds_are_refused(workdir: Path, tiny_model: Path) -> None:
    from axowrap.errors import AxowrapError

    data = _two_dataset_run(workdir, tiny_model, "{path: data/completion.jsonl, format: text}")
    spec = load_spec(workdir / "examples" / "mixed.yaml")
    config = render_spec(spec, base_dir=None).config
    with pytest.raises(AxowrapError, match=r"datasets of different kinds \(alpaca, text\)") as err:
        write_task(workdir / "task", data / "holdout.jsonl", spec.data, config)
    assert "eval.holdout_file" in (err.value.hint or "")
