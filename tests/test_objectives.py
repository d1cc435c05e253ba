"""Training objectives without Axolotl: rows in each trainer's shape, the rendered keys, the
rules that refuse what a trainer cannot run (whole messages), GRPO's rewards and their probe,
the plan's terms, cards and progress. Axolotl itself: test_objectives_axolotl.py (proofs) and
test_objectives_train.py (real training)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import write
from helpers import run_cli

from axowrap.config.render import render_spec
from axowrap.data.formats import layout_for
from axowrap.evaluation import metrics
from axowrap.objectives import OBJECTIVES, objective_of
from axowrap.objectives.probe import Sample, check_reward
from axowrap.objectives.rewards import BUILTIN, exec_match, sql_format
from axowrap.objectives.rows import RowError, grpo_split, trainer_row
from axowrap.objectives.trainer_data import trainer_rows
from axowrap.spec.presets import get_preset
from axowrap.targets import get_target
from axowrap.validate import load_spec

SHAREGPT = layout_for(
    "preference",
    {"messages": "conversations", "chosen": "chosen", "rejected": "rejected", "role": "from", "content": "value"},
    {"system": ["system"], "user": ["human"], "assistant": ["gpt"]},
)
ROW = {
    "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "2+2?"}],
    "chosen": {"from": "gpt", "value": "4"},
    "rejected": {"from": "gpt", "value": "5"},
}


def errors_of(path: Path) -> str:
    res = run_cli("validate", str(path))
    assert res.code == 1, res.out
    return res.out


# --- rows in the trainer's shape


def test_preference_rows_take_each_trainers_shape() -> None:
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    assert trainer_row(OBJECTIVES["dpo"], SHAREGPT, ROW) == {
        "messages": turns,
        "chosen": {"role": "assistant", "content": "4"},
        "rejected": {"role": "assistant", "content": "5"},
    }
    assert trainer_row(OBJECTIVES["orpo"], SHAREGPT, ROW) == {
        "chosen": [turns[1], {"role": "assistant", "content": "4"}],
        "rejected": [turns[1], {"role": "assistant", "content": "5"}],
        "system": "Be brief.",
    }
    assert trainer_row(OBJECTIVES["reward-model"], SHAREGPT, ROW) == {
        "system": "Be brief.",
        "input": "2+2?",
        "chosen": "4",
        "rejected": "5",
    }


def test_rows_a_trainer_cannot_take_are_refused_with_the_reason() -> None:
    multi = {
        **ROW,
        "conversations": [*ROW["conversations"], {"from": "gpt", "value": "ok"}, {"from": "human", "value": "3+3?"}],
    }
    with pytest.raises(
        RowError, match=r"^a reward model .* reads one system and one user turn; this prompt has 3 other"
    ):
        trainer_row(OBJECTIVES["reward-model"], SHAREGPT, multi)
    same = {**ROW, "rejected": ROW["chosen"]}
    with pytest.raises(RowError, match="^chosen and rejected are the same: nothing to prefer$"):
        trainer_row(OBJECTIVES["dpo"], SHAREGPT, same)
    kto = layout_for("kto")
    with pytest.raises(RowError, match=r"^'label' must be true or false, not 'yes'$"):
        trainer_row(OBJECTIVES["kto"], kto, {"messages": [], "label": "yes"})
    with pytest.raises(RowError, match="^'messages' must end with the assistant answer the label judges$"):
        trainer_row(OBJECTIVES["kto"], kto, {"messages": [{"role": "user", "content": "hi"}], "label": True})


def test_kto_and_grpo_rows() -> None:
    kto = layout_for("kto")
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "label": False}
    assert trainer_row(OBJECTIVES["kto"], kto, row) == {
        "prompt": [{"role": "user", "content": "hi"}],
        "completion": [{"role": "assistant", "content": "hello"}],
        "label": False,
    }
    chat = layout_for("messages")
    assert grpo_split(chat, row) == ([{"role": "user", "content": "hi"}], "hello")
    assert grpo_split(chat, {"messages": row["messages"][:1]}) == ([{"role": "user", "content": "hi"}], None)
    alpaca = layout_for("alpaca", {"instruction": "question", "output": "answer"})
    assert grpo_split(alpaca, {"question": "Q", "answer": "A"}) == ({"question": "Q", "answer": "A"}, "A")
    with pytest.raises(RowError, match="^missing or empty 'question' \\(the prompt\\)$"):
        grpo_split(alpaca, {"answer": "A"})


def test_run_directory_rows_for_the_examples(workdir: Path) -> None:
    """Every example's rows convert (the run directory writes these), and the SFT ones are kept."""
    for task in ("dpo", "ipo", "simpo", "orpo", "kto", "reward-model", "sql"):
        spec = load_spec(f"examples/{task}.yaml")
        rows = [json.loads(line) for line in Path(f"examples/data/{spec.preset.example_data}").read_text().splitlines()]
        out = trainer_rows(spec, 0, rows)
        assert len(out) == len(rows)
        assert (out == rows) == (task == "sql")


# --- rendered keys


def test_rendered_keys_of_each_objective(workdir: Path) -> None:
    def cfg(task: str, target: str = "cpu") -> dict:
        return render_spec(load_spec(f"examples/{task}.yaml"), target=get_target(target)).config

    for task in ("dpo", "ipo", "simpo"):
        c = cfg(task)
        assert c["rl"] == task and c["datasets"][0]["type"] == "chat_template.default" and c["sample_packing"] is False
        assert "message_property_mappings" not in c["datasets"][0]  # dropped by Axolotl's DPODataset: rows converted
    assert cfg("ipo")["rl_beta"] == 0.1
    simpo = cfg("simpo")
    assert (simpo["rl_beta"], simpo["simpo_gamma"], simpo["cpo_alpha"], simpo["warmup_steps"]) == (2.0, 0.5, 0.0, 0)
    assert "warmup_ratio" not in simpo
    kto = cfg("kto")
    assert (kto["rl"], kto["skip_prepare_dataset"], kto["remove_unused_columns"]) == ("kto", True, False)
    assert "type" not in kto["datasets"][0]
    rm = cfg("reward-model")
    assert rm["reward_model"] is True and "rl" not in rm and rm["datasets"][0]["type"] == "bradley_terry.chat_template"
    grpo = cfg("grpo")
    assert grpo["rl"] == "grpo" and "type" not in grpo["datasets"][0]
    assert grpo["trl"] == {
        "beta": 0.0,
        "num_generations": 4,
        "max_completion_length": 128,
        "reward_funcs": ["axowrap.objectives.rewards.exec_match", "axowrap.objectives.rewards.sql_format"],
        "reward_weights": [1.0, 0.2],
        "log_completions": False,
        "use_vllm": False,
    }
    gpu = cfg("grpo", "h100-80gb")
    assert gpu["trl"]["use_vllm"] is True and gpu["trl"]["vllm_mode"] == "server"
    assert gpu["vllm"] == {"host": "127.0.0.1", "port": 8000, "gpu_memory_utilization": 0.3, "max_model_len": 2048}
    for task in ("dpo", "kto", "grpo"):  # Axolotl's LoRA kernels do not support RL trainers
        assert cfg(task, "h100-80gb")["lora_mlp_kernel"] is False


def test_simpo_warmup_steps_come_from_max_steps(workdir: Path) -> None:
    spec = write(Path("examples/s.yaml"), Path("examples/simpo.yaml").read_text() + "axolotl: {}\n")
    spec.write_text(spec.read_text().replace("training: {", "training: {max_steps: 40, warmup_ratio: 0.1, "))
    assert render_spec(load_spec(spec)).config["warmup_steps"] == 4
    spec.write_text(spec.read_text().replace("max_steps: 40, ", ""))
    assert errors_of(spec) == (
        "examples/s.yaml:10:12: error: training.warmup_ratio: Axolotl 0.19.0 refuses warmup_ratio with the simpo"
        " trainer (it takes warmup_steps), and without `max_steps` the steps cannot be derived\n"
        "    hint: set `training.max_steps` (warmup_steps = warmup_ratio x max_steps) or `warmup_ratio: 0`\n"
    )


# --- no false passes at validate


def test_raw_rl_switch_on_a_chat_spec_is_an_error(workdir: Path) -> None:
    spec = write(Path("examples/s.yaml"), Path("examples/chat.yaml").read_text() + "axolotl: {rl: grpo}\n")
    assert errors_of(spec) == (
        "examples/s.yaml:14:11: error: axolotl.rl: `rl: grpo` switches Axolotl's trainer to grpo without the rows and"
        " keys it needs (task 'chat' trains sft)\n"
        "    hint: use `task: grpo`\n"
    )
    spec.write_text(Path("examples/dpo.yaml").read_text() + "axolotl: {reward_model: true}\n")
    assert errors_of(spec) == (
        "examples/s.yaml:14:11: error: axolotl.reward_model: `reward_model: true` switches Axolotl's trainer to"
        " reward-model without the rows and keys it needs (task 'dpo' trains dpo)\n"
        "    hint: use `task: reward-model`\n"
    )


def test_grpo_without_rewards_is_an_error(workdir: Path) -> None:
    text = Path("examples/grpo.yaml").read_text()
    spec = write(Path("examples/s.yaml"), "\n".join(x for x in text.splitlines() if not x.startswith("rewards:")))
    assert errors_of(spec) == (
        "examples/s.yaml:3:1: error: (top level): task 'grpo' needs `rewards:`: without reward functions GRPO has"
        " nothing to learn from\n"
        "    hint: e.g. `rewards: {sql_exact_match: 1.0}`; built-in: exact_match, sql_exact_match, exec_match,"
        " exec_valid, tool_call_match, accuracy, rouge_l, sql_format, json_format\n"
    )
    spec.write_text(text + "axolotl: {trl: {num_generations: 8}}\n")
    assert errors_of(spec) == (
        "examples/s.yaml:15:11: error: axolotl.trl: `axolotl.trl` replaces the rendered `trl:` section, reward"
        " functions included, and names none\n"
        "    hint: set `rewards:` and `training.generations`/`completion_len` instead, or list `reward_funcs` here\n"
    )


def test_grpo_reward_inputs_and_group_size(workdir: Path) -> None:
    text = Path("examples/grpo.yaml").read_text()
    no_db = text.replace("database: demo/demo.sqlite", "metric: sql_exact_match")
    spec = write(
        Path("examples/s.yaml"),
        no_db.replace("training: {", "training: {micro_batch_size: 3, gradient_accumulation_steps: 1, "),
    )
    assert errors_of(spec) == (
        "examples/s.yaml:10:11: error: rewards.exec_match: reward 'exec_match' runs the generated SQL, but"
        " `eval.database` names no SQLite file\n"
        "    hint: set `eval.database: PATH.sqlite` (relative to the spec)\n"
        "examples/s.yaml:11:1: error: training.generations: GRPO samples 4 completions per prompt, but a GPU's step"
        " holds 3 (micro_batch_size x gradient_accumulation_steps): Axolotl needs a multiple of the group size\n"
        "    hint: e.g. `gradient_accumulation_steps: 4`\n"
    )
    many = text.replace("training: {", "training: {micro_batch_size: 4, gradient_accumulation_steps: 1, ")
    spec.write_text(many.replace("compute: {target: a10g-24gb}", "compute: {target: a10g-24gb, gpus_per_node: 8}"))
    assert errors_of(spec) == (
        "examples/s.yaml:11:1: error: training.generations: GRPO on 8 GPUs needs at least generations x GPUs = 32"
        " completions per GPU step (micro_batch_size x gradient_accumulation_steps), got 4: each GPU takes whole"
        " groups\n"
        "    hint: raise `gradient_accumulation_steps` or `micro_batch_size`\n"
    )


def test_reward_probe_finds_a_database_that_does_not_hold_the_tables(workdir: Path) -> None:
    other = Path("examples/other.sqlite")
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x integer)")
    spec = write(
        Path("examples/s.yaml"), Path("examples/grpo.yaml").read_text().replace("demo/demo.sqlite", "other.sqlite")
    )
    assert errors_of(spec) == (
        "examples/s.yaml:10:11: error: rewards.exec_match: reward 'exec_match' scored every completion of 6 group(s)"
        " the same (0): no learning signal (GRPO learns from differences within a group)\n"
        "    hint: does `eval.database` hold the tables these queries use?\n"
    )


def test_kto_needs_both_labels_and_boolean_labels(workdir: Path) -> None:
    rows = [json.loads(line) for line in Path("examples/data/kto.jsonl").read_text().splitlines()]
    write(Path("examples/data/one.jsonl"), "".join(json.dumps(r) + "\n" for r in rows if r["label"]))
    spec = write(
        Path("examples/s.yaml"), Path("examples/kto.yaml").read_text().replace("data/kto.jsonl", "data/one.jsonl")
    )
    assert errors_of(spec) == (
        "examples/s.yaml:7:5: error: datasets[0].path: data/one.jsonl: every label is true (desirable): KTO needs"
        " desirable and undesirable answers\n"
        "    hint: add rows of the other label (KTO weighs the two classes against each other)\n"
    )
    rows[1]["label"] = "no"
    write(Path("examples/data/one.jsonl"), "".join(json.dumps(r) + "\n" for r in rows))
    out = errors_of(spec)
    assert "line 2: wrong type: 'label' must be true or false, not 'no'" in out


def test_reward_model_refuses_multi_turn_prompts(workdir: Path) -> None:
    spec = write(
        Path("examples/s.yaml"),
        Path("examples/dpo.yaml")
        .read_text()
        .replace("task: dpo", "task: reward-model")
        .replace("export: {merge: true, gguf: [q4_k_m]}", "export: {merge: false, gguf: null}"),
    )
    out = errors_of(spec)
    assert (
        "examples/data/dpo.jsonl:6: error: datasets[0].path: line 6: reward-model: a reward model (Axolotl's"
        " bradley_terry.chat_template) reads one system and one user turn; this prompt has 5 other turn(s)\n" in out
    )


def test_custom_reward_probe_under_deep(workdir: Path) -> None:
    """validate finds the module beside the spec; the deep probe runs it on real rows."""
    from axowrap.rules.objectives import deep_reward_problems

    write(
        Path("examples/my_rewards.py"),
        "def constant(prompts, completions, **kw):\n    return [1.0 for _ in completions]\n\n"
        "def one(prompts, completions, **kw):\n    return 1.0\n\n"
        "def brevity(prompts, completions, target, **kw):\n    return [1.0 / (1 + len(c)) for c in completions]\n",
    )
    text = Path("examples/grpo.yaml").read_text()
    spec = write(
        Path("examples/s.yaml"),
        text.replace(
            "sql_format: 0.2", "my_rewards.constant: 0.1, my_rewards.one: 0.1, my_rewards.brevity: 0.1, nope.fn: 1"
        ),
    )
    out = errors_of(spec)
    assert out == (
        "examples/s.yaml:10:100: error: rewards.nope.fn: reward 'nope.fn': module 'nope' not found (neither beside the"
        " spec nor installed); built-in rewards: exact_match, sql_exact_match, exec_match, exec_valid,"
        " tool_call_match, accuracy, rouge_l, sql_format, json_format\n"
        "    hint: a reward is a built-in name or a dotted path module.function\n"
    )
    spec.write_text(
        text.replace("sql_format: 0.2", "my_rewards.constant: 0.1, my_rewards.one: 0.1, my_rewards.brevity: 0.1")
    )
    problems = [p.message for p in deep_reward_problems(load_spec(spec))]
    assert problems == [
        "reward 'my_rewards.constant' scored every completion of 6 group(s) the same (1): no learning signal"
        " (GRPO learns from differences within a group)",
        "reward 'my_rewards.one' must return a list of 4 numbers (one per completion), returned float",
    ]


# --- rewards are the eval's metrics


def test_builtin_rewards_are_the_metrics(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript("CREATE TABLE city (name text, pop integer); INSERT INTO city VALUES ('a', 1), ('b', 2);")
    gold = "SELECT name FROM city WHERE pop > 1;"
    completions = [gold, "SELECT name FROM city;", "SELECT nope FROM city", "no sql here"]
    expected = [metrics.execution_match(c, gold, db) for c in completions]
    assert exec_match(prompts=["q"] * 4, completions=completions, target=[gold] * 4, database=[str(db)] * 4) == expected
    assert expected == [1.0, 0.0, 0.0, 0.0]
    chat = [[{"role": "assistant", "content": c}] for c in completions]  # conversational prompts give messages
    assert exec_match(prompts=["q"] * 4, completions=chat, target=[gold] * 4, database=[str(db)] * 4) == expected
    assert sql_format(prompts=["q"] * 4, completions=completions) == [1.0, 1.0, 1.0, 0.0]
    assert sql_format(prompts=["q"], completions=[gold + " -- and then some prose"]) == [0.0]
    for name in ("exact_match", "sql_exact_match", "tool_call_match", "accuracy", "rouge_l"):
        fn = getattr(metrics, name)
        assert BUILTIN[name].fn(prompts=["q"] * 2, completions=["a b", "c"], target=["a b", "a b"]) == [
            fn("a b", "a b"),
            fn("c", "a b"),
        ]


def test_probe_checks_type_range_and_variance() -> None:
    rows = [Sample("p", f"answer {i}", {"target": f"answer {i}"}) for i in range(3)]
    assert check_reward("rouge_l", BUILTIN["rouge_l"].fn, rows) is None
    assert check_reward("x.nan", lambda **kw: [float("nan")] * len(kw["completions"]), rows) == (
        "returned nan: rewards must be finite numbers (or None)"
    )
    assert check_reward("x.none", lambda **kw: [None, *[0.5] * (len(kw["completions"]) - 1)], rows) == (
        "scored every completion of 3 group(s) the same (0.5): no learning signal (GRPO learns from differences within a group)"
    )
    assert check_reward("rouge_l", lambda **kw: [2.0] * len(kw["completions"]), rows).startswith("returned [2.0")


# --- plan, cards, progress, report


def test_plan_terms_of_the_objectives(workdir: Path) -> None:
    from axowrap.plan.build import fit_check

    def plan(text: str, target: str = "a10g-24gb"):
        spec = write(Path("examples/p.yaml"), text)
        return fit_check(load_spec(spec), get_target(target))

    dpo = Path("examples/dpo.yaml").read_text()
    lora = plan(dpo)
    assert lora.setup.rl == "dpo" and lora.setup.tokens == 2 * lora.setup.micro_batch * lora.setup.sequence_len
    assert "reference_model" not in lora.estimate.components  # the base with the adapter off
    full = plan(dpo.replace("method: lora", "method: full")).estimate.components
    assert full["reference_model"] == full["weights"]  # Axolotl loads a frozen copy for the reference
    orpo = plan(Path("examples/orpo.yaml").read_text().replace("method: lora", "method: full"))
    assert "reference_model" not in orpo.estimate.components
    assert plan(Path("examples/reward-model.yaml").read_text()).setup.rl == "reward-model"  # pairs too
    grpo = Path("examples/grpo.yaml").read_text()
    gpu = plan(grpo, "h100-80gb")
    assert gpu.setup.vllm and gpu.estimate.components["vllm_server"] == pytest.approx(0.3 * 80e9)
    assert gpu.estimate.components["generation"] == 0  # the server generates, not the training process
    cpu = plan(grpo.replace("a10g-24gb", "cpu"), "cpu")
    assert cpu.estimate.components["generation"] > 0 and "vllm_server" not in cpu.estimate.components
    assert any("TRL generates 32 completions of up to 128 tokens at once" in n for n in cpu.notes)
    assert plan(Path("examples/sql.yaml").read_text()).setup.rl is None


def test_cards_say_the_objective_and_the_reward(workdir: Path) -> None:
    from axowrap.hub.cards import CardInputs, card_metadata, render_card

    def card(task: str, kind: str = "adapter") -> tuple[str, dict]:
        spec = load_spec(f"examples/{task}.yaml")
        inp = CardInputs(kind, "me/m", {kind: "me/m"}, spec.data, render_spec(spec).config, {}, {}, [])
        return render_card(inp), card_metadata(inp)

    text, meta = card("grpo")
    assert "Objective: GRPO: Group Relative Policy Optimization" in text
    assert "| `exec_match` | 1.0 | `axowrap.objectives.rewards.exec_match` |" in text
    assert "grpo" in meta["tags"] and meta["pipeline_tag"] == "text-generation"
    text, meta = card("reward-model")
    assert meta["pipeline_tag"] == "text-classification" and "AutoModelForSequenceClassification" in text
    text, _ = card("sql")
    assert "Objective: supervised fine-tuning" in text and "Reward" not in text


def test_progress_reads_grpo_rewards() -> None:
    from axowrap.run.progress import ProgressParser, describe

    record = (
        "{'loss': '0.01', 'learning_rate': '1e-05', 'rewards/exec_match/mean': '0.25', 'rewards/sql_format/mean': '1',"
        " 'reward': '0.45', 'reward_std': '0.1', 'epoch': '0.5'}"
    )
    (event,) = ProgressParser(total=2).feed(record)
    assert event["reward"] == 0.45 and event["reward/exec_match"] == 0.25 and event["reward/sql_format"] == 1.0
    assert describe(event) == "step 1/2  loss 0.0100  lr 1e-05  reward 0.45 (exec_match 0.25, sql_format 1)"


def test_objective_of_presets() -> None:
    assert [objective_of(get_preset(t)).name for t in ("sql", "dpo", "reward-model", "grpo")] == [
        "sft",
        "dpo",
        "reward-model",
        "grpo",
    ]


def test_data_check_finds_kto_rows_of_one_label(workdir: Path) -> None:
    rows = [json.loads(line) for line in Path("examples/data/kto.jsonl").read_text().splitlines()]
    write(Path("one.jsonl"), "".join(json.dumps(r) + "\n" for r in rows if not r["label"]))
    res = run_cli("data", "check", "one.jsonl", "--format", "kto", "--no-tokens", "--json")
    assert res.code == 1
    findings = json.loads(res.out)["findings"]
    assert [(f["category"], f["message"]) for f in findings] == [
        ("one label only", "every label is false (undesirable): KTO needs desirable and undesirable answers")
    ]
    res = run_cli("data", "check", "examples/data/kto.jsonl", "--format", "kto", "--no-tokens")
    assert res.code == 0, res.out


def test_a_reward_model_without_pairs_and_kto_without_labels_are_errors(workdir: Path) -> None:
    spec = write(
        Path("examples/s.yaml"),
        Path("examples/reward-model.yaml").read_text().replace("format: preference", "format: alpaca"),
    )
    assert (
        "examples/s.yaml:8:5: error: datasets[0].format: task 'reward-model' (reward-model) trains on preference"
        " rows, but this dataset is 'alpaca'\n"
        "    hint: use `format: preference` with chosen/rejected fields\n"
    ) in errors_of(spec)
    rows = [json.loads(line) for line in Path("examples/data/kto.jsonl").read_text().splitlines()]
    write(Path("examples/data/nolabel.jsonl"), "".join(json.dumps({"messages": r["messages"]}) + "\n" for r in rows))
    spec.write_text(Path("examples/kto.yaml").read_text().replace("data/kto.jsonl", "data/nolabel.jsonl"))
    out = errors_of(spec)
    # each row once (the data rule's format check; the objective's own check skips what it rejects)
    assert out.count("line 1: missing key 'label' (true: desirable, false: undesirable)") == 1, out
    assert "kto: missing key" not in out


def test_a_reward_model_is_not_evaluated_as_a_language_model(workdir: Path) -> None:
    text = Path("examples/reward-model.yaml").read_text().replace("eval: {holdout: null}", "eval: {holdout: 0.1}")
    spec = write(Path("examples/s.yaml"), text)
    assert errors_of(spec) == (
        "examples/s.yaml:11:8: error: eval.holdout: a reward model is a scorer, not a language model: the eval"
        " (lm-eval on generated or preferred text) would load it as a causal LM without its score head\n"
        "    hint: set `eval.holdout: null`\n"
    )
