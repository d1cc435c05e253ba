"""`make demo DEMO=tiny` for real: examples/demo.sh --tiny runs the whole chain on the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

STAGES = ["tiny-model", "validate", "data-check", "plan", "pipeline", "eval"]


def test_demo_script_parses_and_refuses_unknown_modes(tmp_path: Path) -> None:
    script = REPO / "examples" / "demo.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    res = subprocess.run(["bash", str(script), "--huge"], capture_output=True, text=True)
    assert res.returncode == 2 and "usage: demo.sh [--tiny | --full]" in res.stderr
    res = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "DEMO": "medium", "DEMO_WORK": str(tmp_path)},
    )
    assert res.returncode == 2 and "DEMO must be full or tiny, not 'medium'" in res.stderr


@pytest.mark.slow
@pytest.mark.axolotl
def test_tiny_demo_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    env = {
        **os.environ,
        "DEMO_WORK": str(work),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    res = subprocess.run(
        ["bash", str(REPO / "examples" / "demo.sh"), "--tiny"], env=env, capture_output=True, text=True, timeout=900
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    assert [line.split("\t")[0] for line in (work / "timings.tsv").read_text().splitlines()] == STAGES
    (run,) = work.glob("runs/sql-demo-tiny-*")
    steps = json.loads((run / "state.json").read_text())["steps"]
    assert {name: steps[name]["status"] for name in ("train", "merge", "gguf", "eval")} == dict.fromkeys(
        ("train", "merge", "gguf", "eval"), "done"
    )
    assert sorted(p.name for p in (run / "gguf").glob("*.gguf")) == ["sql-demo-tiny-f16.gguf"]
    results = json.loads((run / "eval" / "results.json").read_text())
    assert results["n"] == 15  # every held-out row of examples/demo/heldout.jsonl
    assert results["model"] == "gguf"  # the fine-tune scored as shipped, through llama.cpp
    for metric in ("sql_exact_match", "exec_match", "exec_valid"):
        assert {"base", "tuned"} <= set(results["metrics"][metric])

    out = res.stdout
    assert "== held-out scores (base model vs fine-tune)" in out
    assert "sql_exact_match" in out and "exec_match" in out and "tuned = the fine-tune as gguf" in out
    assert "llama.cpp (sql-demo-tiny" in out and "  answer:" in out  # the GGUF answered through llama.cpp
    assert "total: " in out
