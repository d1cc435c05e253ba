"""The train step runs Axolotl's own validator before launching anything (issue: `run` used to
spend the launch on a config Axolotl then refused)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import tiny_spec
from helpers import run_cli

pytestmark = pytest.mark.axolotl


def test_a_config_axolotl_refuses_stops_before_the_launch(tiny_model: Path, tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "p", tiny_model)
    # static validation has no rule for this one; Axolotl's validator refuses it
    spec.write_text(spec.read_text() + "axolotl: {peft_layers_pattern: [layers]}\n")
    start = time.monotonic()
    res = run_cli("run", str(spec), "--steps", "train")
    assert res.code == 1, res.out + res.err
    assert "axolotl.yaml:" in res.err and "peft_layers_pattern requires peft_layers_to_transform" in res.err
    assert "accelerate" not in res.out  # nothing was launched
    assert time.monotonic() - start < 120


def test_a_raw_key_that_conflicts_with_a_rendered_one_trains(tiny_model: Path, tmp_path: Path) -> None:
    """`axolotl: {save_steps: 2}` replaces the preset's saves_per_epoch: Axolotl accepts the config."""
    from axowrap.config.referee import refusals
    from axowrap.config.render import render_spec
    from axowrap.targets import get_target
    from axowrap.validate import load_spec

    spec = tiny_spec(tmp_path / "q", tiny_model)
    text = spec.read_text().replace(", save_steps: 3}", "}") + "axolotl: {save_steps: 2}\n"
    spec.write_text(text)
    rendered = render_spec(load_spec(spec))
    assert rendered.config["save_steps"] == 2 and "saves_per_epoch" not in rendered.config
    found = refusals(rendered.config, get_target("cpu").capabilities())[0]
    assert [f for f in found if f.kind != "warns"] == []
