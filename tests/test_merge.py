"""`extends` merge rules: maps merge deeply, lists replace, null removes; provenance is kept."""

from __future__ import annotations

from pathlib import Path

from conftest import write

from axowrap.config.render import render_spec
from axowrap.spec.layers import layered
from axowrap.validate import load_spec


def test_merge_rules() -> None:
    merged, sources = layered(
        [
            ("base", {"a": {"x": 1, "y": 2}, "l": [1, 2], "gone": {"k": 1}, "keep": 1}),
            ("spec", {"a": {"y": 3}, "l": [9], "gone": None}),
        ]
    )
    assert merged == {"a": {"x": 1, "y": 3}, "l": [9], "keep": 1}
    assert sources == {("a", "x"): "base", ("a", "y"): "spec", ("l",): "spec", ("keep",): "base"}


def test_extends_chain_and_provenance(workdir: Path) -> None:
    write(
        workdir / "team" / "base.yaml",
        "base_model: org/team-model\ntraining: {epochs: 5, micro_batch_size: 8}\n"
        "export: {gguf: [q8_0, q4_k_m]}\ncompute: {target: h100-80gb}\n",
    )
    write(workdir / "team" / "chat.yaml", "extends: base.yaml\ntask: chat\ntraining: {epochs: 2}\n")
    spec_path = write(
        workdir / "specs" / "bot.yaml",
        "extends: ../team/chat.yaml\ndatasets: [{path: ../examples/data/chat.jsonl}]\nexport: {gguf: null}\n",
    )
    spec = load_spec(spec_path.relative_to(workdir))
    assert spec.data["training"]["epochs"] == 2
    assert spec.data["training"]["micro_batch_size"] == 8
    assert spec.data["training"]["learning_rate"] == 2e-4
    assert "gguf" not in spec.data["export"]
    assert spec.source_of(("training", "epochs")) == "team/chat.yaml"
    assert spec.source_of(("training", "micro_batch_size")) == "team/base.yaml"
    assert spec.source_of(("training", "learning_rate")) == "preset _base"
    assert spec.source_of(("eval", "metric")) == "preset chat"
    assert spec.source_of(("datasets",)) == "specs/bot.yaml"
    cfg = render_spec(spec).config
    assert cfg["base_model"] == "org/team-model" and cfg["num_epochs"] == 2
    assert cfg["datasets"][0]["path"] == "examples/data/chat.jsonl"
