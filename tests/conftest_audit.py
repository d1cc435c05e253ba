"""Session fixture of the stop audit and `axowrap chat`: a run whose model really ends its answers.

The tiny model is first taught to end answers with EOS (like a real instruct base model), then
the real pipeline runs on it: LoRA training (Axolotl), merge, f16 GGUF, Modelfile.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from axowrap.run.rundir import RunDir

DATA = Path(__file__).resolve().parent / "data"
PRESETS = Path(__file__).resolve().parent.parent / "axowrap" / "presets"

STOP_SPEC = """\
task: sql
base_model: {model}
datasets: [{{path: data/sql.jsonl}}]
training: {{max_steps: 2, learning_rate: 1.0e-4, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 256, save_steps: 2}}
eval: {{holdout: 0.25}}
export: {{merge: true, gguf: [f16]}}
compute: {{target: cpu}}
"""


@pytest.fixture(scope="session")
def stop_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A run (train, merge, gguf done) of a tiny model that stops after its SQL answers."""
    from fixtures.tiny_model import build, teach_to_stop

    from axowrap.run.pipeline import run_spec

    root = tmp_path_factory.mktemp("stop")
    rows = [json.loads(line) for line in (DATA / "stop_sql.jsonl").read_text(encoding="utf-8").splitlines()]
    prompt = yaml.safe_load((PRESETS / "sql.yaml").read_text(encoding="utf-8"))["dataset"]["prompt"]
    model = teach_to_stop(build(root / "model"), rows, prompt)
    (root / "data").mkdir()
    shutil.copy2(DATA / "stop_sql.jsonl", root / "data" / "sql.jsonl")
    spec = root / "stop.yaml"
    spec.write_text(STOP_SPEC.format(model=model), encoding="utf-8")
    run, _ = run_spec(spec, runs_root=root / "runs", names=["train", "merge", "gguf"])
    return run


def copy_run(run: RunDir, to: Path) -> RunDir:
    """A copy of a run directory to break on purpose (its config still points at the original's data)."""
    shutil.copytree(run.root, to, ignore=shutil.ignore_patterns(".lock"))
    return RunDir(to)
