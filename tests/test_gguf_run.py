"""The whole export chain through the runner: `axowrap run` trains, merges, writes a GGUF and
the serving files, records results in state.json and report.md, then skips when up to date."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES
from helpers import run_cli

pytestmark = [pytest.mark.axolotl, pytest.mark.slow]

SPEC = """\
task: sql
name: chain
base_model: {model}
datasets: [{{path: data/sql.jsonl}}]
training: {{max_steps: 2, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 256}}
eval: {{holdout: null}}
export: {{merge: true, gguf: [q8_0]}}
compute: {{target: cpu}}
"""


def test_axowrap_run_train_merge_gguf(tiny_model: Path, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    spec = tmp_path / "chain.yaml"
    spec.write_text(SPEC.format(model=tiny_model))
    res = run_cli("run", str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert res.code == 0, res.err + res.out
    (root,) = (tmp_path / "runs").iterdir()
    state = json.loads((root / "state.json").read_text())["steps"]
    assert [state[s]["status"] for s in ("train", "merge", "gguf")] == ["done"] * 3
    smoke = state["gguf"]["result"]["files"]["q8_0"]["smoke"]
    assert smoke["ok"] and smoke["tokenization"]["mismatches"] == []
    assert (root / "gguf" / "chain-q8_0.gguf").is_file()
    assert (root / "serve" / "Modelfile").read_text().splitlines()[1] == "FROM ../gguf/chain-q8_0.gguf"
    report = (root / "report.md").read_text()
    assert "### Merge" in report and "### GGUF" in report and "chain-q8_0.gguf" in report
    again = run_cli("run", str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert again.code == 0 and "merge: skipped" in again.out + again.err and "gguf: skipped" in again.out + again.err
