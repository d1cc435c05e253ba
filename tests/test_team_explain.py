"""`render --explain KEY`: where each value came from, through presets, extends and the target."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, write
from helpers import run_cli

BASE = """\
method: lora
lora: {r: 32, alpha: 64, dropout: 0.1}
training: {learning_rate: 1.0e-4, warmup_ratio: 0.1, optimizer: adamw_torch}
compute: {target: cpu}
datasets: [{path: data/instruct.jsonl, format: alpaca}, {path: data/instruct.jsonl, format: alpaca}]
"""
SPEC = """\
extends: ../base.yaml
task: instruct
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
lora: {r: 8}
datasets:
  - {path: ../data/instruct.jsonl, format: alpaca}
training: {warmup_ratio: null, epochs: 2}
axolotl: {save_safetensors: true}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    write(tmp_path / "base.yaml", BASE)
    write(tmp_path / "specs" / "a.yaml", SPEC)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def explain(*keys: str) -> str:
    res = run_cli("render", "specs/a.yaml", *(a for k in keys for a in ("--explain", k)))
    assert res.code == 0, res.err
    return res.out


def test_maps_merge_deeply_and_each_key_names_its_layer(repo: Path) -> None:
    assert explain("lora_r") == (
        "lora_r: 8\n  from spec key lora.r\n  set by: the spec itself (specs/a.yaml:4)\n"
        "  overrides: preset default (every task) = 16\n  overrides: base spec base.yaml:2 (via extends) = 32\n"
    )
    out = explain("lora_alpha", "lora_dropout")
    assert "lora_alpha: 64\n  from spec key lora.alpha\n  set by: base spec base.yaml:2 (via extends)\n" in out
    assert "lora_dropout: 0.1\n" in out


def test_lists_replace(repo: Path) -> None:
    res = run_cli("render", "specs/a.yaml")
    assert res.code == 0, res.err
    assert res.out.count("- path:") == 1  # the spec's one dataset replaced the base's two
    out = explain("datasets")
    assert "set by: the spec itself (specs/a.yaml:5)\n  overrides: base spec base.yaml:5 (via extends) = [{path:" in out
    assert explain("datasets[0].fields").endswith("set by: preset default of task 'instruct'\n")


def test_null_falls_back_to_the_base_default(repo: Path) -> None:
    # `null` removes the inherited value; a key every run needs then comes from presets/_base.yaml
    assert explain("warmup_ratio") == (
        "warmup_ratio: 0.05\n  from spec key training.warmup_ratio\n  set by: preset default (every task)\n"
        "  overrides: base spec base.yaml:3 (via extends) = 0.1\n"
        "  overrides: the spec itself (specs/a.yaml:7) = null\n"
    )


def test_preset_defaults_and_spec_keys(repo: Path) -> None:
    assert explain("learning_rate") == (
        "learning_rate: 1.0e-4\n  from spec key training.learning_rate\n  set by: base spec base.yaml:3 (via extends)\n"
        "  overrides: preset default (every task) = 2.0e-4\n"
    )
    assert "set by: preset default" in explain("sequence_len")
    assert explain("training.epochs").startswith("training.epochs: 2\n  set by: the spec itself (specs/a.yaml:7)\n")


def test_target_adjustments_overrides_and_fixed_values(repo: Path) -> None:
    out = explain("bf16")
    assert out == (
        "bf16: false\n  target adjustment: axowrap's choice for target cpu x1\n"
        "  compute.target set by: base spec base.yaml:4 (via extends)\n"
    )
    assert (
        "target h100-80gb x8" in run_cli("render", "specs/a.yaml", "--target", "h100-80gb:8", "--explain", "bf16").out
    )
    assert "from the spec's axolotl: section (axolotl.save_safetensors)" in explain("save_safetensors")
    assert "fixed by axowrap for every spec" in explain("val_set_size")


def test_an_unknown_key_is_a_usage_error_with_a_suggestion(repo: Path) -> None:
    res = run_cli("render", "specs/a.yaml", "--explain", "lerning_rate")
    assert res.code == 2
    assert "did you mean 'learning_rate'?" in res.err
