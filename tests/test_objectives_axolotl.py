"""What the objectives' rules and rendering rest on, shown against the installed Axolotl 0.19.0
and TRL: each test is the evidence for one choice in axowrap/objectives and config/objective.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from axowrap.config.render import render_spec
from axowrap.targets import get_target
from axowrap.validate import load_spec

pytestmark = pytest.mark.axolotl

CPU = {"bf16": False, "fp8": False, "tf32": False, "n_gpu": 1, "n_node": 1, "compute_capability": None}


def axolotl_validate(cfg: dict) -> dict:
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    return validate_config(DictDefault(cfg), capabilities=CPU, env_capabilities={"torch_version": "2.13.0"})


def test_axolotl_drops_column_and_role_mappings_of_rl_datasets(workdir: Path) -> None:
    """Why the run directory converts rows: a DPO dataset keeps no role/content mapping and a
    KTO dataset not even its field names (the old dpo preset failed with KeyError 'role')."""
    cfg = render_spec(load_spec("examples/dpo.yaml")).config
    entry = {
        **cfg["datasets"][0],
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
        "roles": {"user": ["human"], "assistant": ["gpt"]},
    }
    kept = axolotl_validate({**cfg, "datasets": [entry]})["datasets"][0]
    assert "message_property_mappings" not in kept and "roles" not in kept and kept["field_messages"] == "conversations"
    kto = render_spec(load_spec("examples/kto.yaml")).config
    kept = axolotl_validate({**kto, "datasets": [{**kto["datasets"][0], "field_messages": "messages"}]})["datasets"][0]
    assert "field_messages" not in kept


def test_axolotl_refuses_warmup_ratio_for_simpo(workdir: Path) -> None:
    cfg = render_spec(load_spec("examples/simpo.yaml"), target=get_target("cpu")).config
    axolotl_validate(cfg)  # as rendered: warmup_steps
    with pytest.raises(Exception, match="warmup_ratio is not supported with the simpo trainer"):
        axolotl_validate({**{k: v for k, v in cfg.items() if k != "warmup_steps"}, "warmup_ratio": 0.05})


def test_axolotl_checks_grpo_batch_shape(workdir: Path) -> None:
    """The rule on `training.generations` states Axolotl's own check of the batch shape."""
    cfg = render_spec(load_spec("examples/grpo.yaml"), target=get_target("cpu")).config
    axolotl_validate(cfg)  # the preset: 4 x 8 completions per step, groups of 4
    with pytest.raises(Exception, match="generation batch size must be divisible by `trl.num_generations`"):
        axolotl_validate({**cfg, "micro_batch_size": 3, "gradient_accumulation_steps": 1})


def test_axolotl_loads_every_builtin_reward_by_its_rendered_path() -> None:
    from axolotl.core.trainers.grpo import GRPOStrategy

    from axowrap.objectives.rewards import BUILTIN

    for reward in BUILTIN.values():
        assert GRPOStrategy.get_reward_func(reward.path) is reward.fn


def test_grpo_prompts_are_the_eval_prompts(workdir: Path) -> None:
    """A GRPO row's prompt is the text the eval sends for the same row (the same prompter)."""
    from axowrap.evaluation.tasks import build_docs
    from axowrap.objectives.trainer_data import trainer_rows

    spec = load_spec("examples/grpo.yaml")
    rows = [json.loads(line) for line in Path("examples/data/grpo.jsonl").read_text().splitlines()[:3]]
    trained = trainer_rows(spec, 0, rows)
    docs = build_docs(rows, spec.data, render_spec(spec).config)
    assert [t["prompt"] for t in trained] == [d["prompt"] for d in docs]
    assert [t["target"] for t in trained] == [d["target"] for d in docs] == [r["answer"] for r in rows]
    assert trained[0]["prompt"].startswith("### Database schema:\n-- SQLite database:")
    assert trained[0]["database"] == str(Path("examples/demo/demo.sqlite").resolve())


def test_kto_eval_scores_the_desirable_answers(workdir: Path, tiny_model: Path) -> None:
    from axowrap.evaluation.tasks import build_docs

    text = Path("examples/kto.yaml").read_text().replace("HuggingFaceTB/SmolLM2-135M-Instruct", str(tiny_model))
    Path("examples/k.yaml").write_text(text)
    spec = load_spec("examples/k.yaml")
    rows = [json.loads(line) for line in Path("examples/data/kto.jsonl").read_text().splitlines()[:4]]
    docs = build_docs(rows, spec.data, yaml.safe_load(render_spec(spec).text))
    wanted = [r["messages"][-1]["content"] for r in rows if r["label"]]
    assert [d["target"] for d in docs] == wanted and len(wanted) == 2


def test_training_finds_the_specs_own_reward_module(workdir: Path) -> None:
    """Axolotl imports a custom reward by name in the training process: the spec's folder goes
    first on its PYTHONPATH (the dry run shows the environment the launch gets)."""
    from helpers import run_cli

    Path("examples/my_rewards.py").write_text(
        "def brevity(prompts, completions, **kw):\n    return [1.0 / (1 + len(c)) for c in completions]\n"
    )
    text = Path("examples/grpo.yaml").read_text().replace("sql_format: 0.2", "my_rewards.brevity: 0.1")
    Path("examples/g.yaml").write_text(text)
    res = run_cli("run", "examples/g.yaml", "--steps", "train", "--dry-run", "--runs-dir", "runs")
    assert res.code == 0, res.out + res.err
    assert f"PYTHONPATH={Path('examples').resolve()}" in res.out
    config = yaml.safe_load(next(Path("runs").glob("g-*/axolotl.yaml")).read_text())
    assert config["trl"]["reward_funcs"] == ["axowrap.objectives.rewards.exec_match", "my_rewards.brevity"]
    res = run_cli("run", "examples/grpo.yaml", "--steps", "train", "--dry-run", "--runs-dir", "runs")
    assert "PYTHONPATH" not in res.out  # built-in rewards only: the environment is left alone
