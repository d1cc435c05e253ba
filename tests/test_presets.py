"""Every preset: `new` -> `validate` -> `render`, and Axolotl's own validator accepts the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES
from helpers import run_cli

from axowrap.config.render import render_spec
from axowrap.resources import schema_file
from axowrap.spec.presets import get_preset, preset_names
from axowrap.targets import get_target, target_names
from axowrap.validate import load_spec, validate_path

TASKS = ["sql", "function-calling", "chat", "instruct", "summarize", "classify", "dpo", "orpo", "completion"]


def test_the_presets_the_mission_names_exist() -> None:
    assert sorted(preset_names()) == sorted(TASKS)


def test_spec_schema_lists_exactly_the_presets_and_targets() -> None:
    schema = json.loads(schema_file("spec.schema.json").read_text())
    assert sorted(schema["properties"]["task"]["enum"]) == sorted(preset_names())
    # built-in names for editors' completion; a team's own targets are checked by a rule
    assert schema["properties"]["compute"]["properties"]["target"]["anyOf"][0]["enum"] == target_names()


def test_every_spec_field_is_described() -> None:
    schema = json.loads(schema_file("spec.schema.json").read_text())

    def walk(node: dict, path: str) -> None:
        for key, sub in node.get("properties", {}).items():
            assert sub.get("description"), f"{path}{key} has no description"
            walk(sub, f"{path}{key}.")
        if isinstance(node.get("items"), dict):
            walk(node["items"], path)

    walk(schema, "")


def test_every_preset_has_an_example_with_data() -> None:
    for name in preset_names():
        preset = get_preset(name)
        assert (EXAMPLES / f"{name}.yaml").is_file()
        assert (EXAMPLES / "data" / preset.example_data).is_file()


@pytest.mark.parametrize("task", TASKS)
def test_new_then_validate_then_render(task: str, workdir: Path) -> None:
    res = run_cli("new", "--task", task, "--data", f"data/{task}.jsonl", "-o", f"examples/new-{task}.yaml")
    assert res.code == 0, res.err
    text = Path(f"examples/new-{task}.yaml").read_text()
    assert len([line for line in text.splitlines() if line.strip()]) <= 16
    assert yaml.safe_load(text)["task"] == task
    report = validate_path(Path(f"examples/new-{task}.yaml"))
    assert report.ok, [p.render() for p in report.problems]
    cfg = render_spec(load_spec(f"examples/new-{task}.yaml")).config
    if task in ("dpo", "orpo"):
        assert cfg["rl"] == task and cfg["sample_packing"] is False
    else:
        assert cfg["sample_packing"] is True and "rl" not in cfg
    assert cfg["lora_target_linear"] is True and cfg["lora_alpha"] == 2 * cfg["lora_r"]
    assert cfg["gradient_checkpointing"] is True


@pytest.mark.parametrize("spec_path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_validates(spec_path: Path) -> None:
    report = validate_path(spec_path)
    assert report.ok, [p.render() for p in report.problems]


@pytest.mark.axolotl
@pytest.mark.parametrize("target", ["cpu", "t4-16gb", "h100-80gb:8"])
@pytest.mark.parametrize("task", TASKS)
def test_axolotl_accepts_every_preset(task: str, target: str, workdir: Path) -> None:
    """The real `axolotl.utils.config.validate_config`, for each target's capabilities."""
    from axowrap.targets import parse_target

    report = validate_path(Path(f"examples/{task}.yaml"), target=parse_target(target), deep=True)
    errors = [p.render() for p in report.problems if p.severity == "error"]
    assert errors == []
    # axowrap sets every auto-enabled kernel explicitly, so Axolotl has nothing to warn about
    assert not [p for p in report.problems if "Auto-enabling" in p.message]


@pytest.mark.axolotl
def test_deep_reports_axolotl_errors_for_the_target(workdir: Path) -> None:
    Path("examples/bad.yaml").write_text(
        Path("examples/sql.yaml").read_text() + "axolotl: {bf16: true}\n", encoding="utf-8"
    )
    report = validate_path(Path("examples/bad.yaml"), target=get_target("t4-16gb"), deep=True)
    messages = [p.message for p in report.problems if p.severity == "error"]
    assert messages and all(m.startswith("Axolotl (t4-16gb x1): ") for m in messages)
    assert any("bf16" in m for m in messages)
