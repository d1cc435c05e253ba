"""Session fixtures for the export steps (merge, gguf, serve): a run directory built by hand
around the real `tiny_adapter`, then the real merge and GGUF steps run on it once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from axowrap.run.rundir import RunDir
from axowrap.steps.base import StepContext

GGUF_TYPES = ["f16", "q8_0", "q4_k_m"]


def make_run(root: Path, model: Path, adapter: Path | None) -> RunDir:
    """A run directory as the runner lays it out: spec, absolute-path config, adapter/ copied in."""
    from conftest import tiny_spec

    from axowrap.config.render import render_spec
    from axowrap.validate import load_spec

    run = RunDir(root)
    spec_path = tiny_spec(root / "src", model)
    rendered = render_spec(load_spec(spec_path), base_dir=None, output_dir=str(run.adapter))
    run.root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(spec_path, run.spec)
    run.config.write_text(rendered.text, encoding="utf-8")
    # the part of manifest.json the runner and the steps' fingerprints read
    manifest = {"spec": {"effective": load_spec(spec_path).data}, "datasets": [], "base_model": {"path": str(model)}}
    run.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    if adapter is not None:
        shutil.copytree(adapter, run.adapter, ignore=shutil.ignore_patterns("checkpoint-*", "prepared"))
    return run


def context(run: RunDir, step: str, echo: Any = None, **kw: Any) -> StepContext:
    from axowrap.run.events import Events
    from axowrap.validate import load_spec

    lines: list[str] = []
    return StepContext(
        name=step,
        run=run,
        spec=load_spec(run.root / "src" / "tiny.yaml").data,
        config=yaml.safe_load(run.config.read_text(encoding="utf-8")),
        log=run.log(step),
        events=Events(echo or lines.append),
        **kw,
    )


@pytest.fixture(scope="session")
def merged_run(
    tiny_model: Path, tiny_adapter: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunDir, dict[str, Any]]:
    """A run whose merge step ran for real: (run, merge result)."""
    from axowrap.steps.merge import STEP

    run = make_run(tmp_path_factory.mktemp("export") / "run", tiny_model, tiny_adapter)
    return run, STEP.run(context(run, "merge"))


@pytest.fixture(scope="session")
def gguf_run(merged_run: tuple[RunDir, dict[str, Any]]) -> tuple[RunDir, dict[str, Any]]:
    """The merged run after the real gguf step (f16, q8_0, q4_k_m): (run, gguf result)."""
    from axowrap.steps.gguf import STEP

    run, _ = merged_run
    return run, STEP.run(context(run, "gguf"))
