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
    assert res.returncode == 2 and "usage: demo.sh [--full | --tools | --tiny]" in res.stderr
    res = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "DEMO": "medium", "DEMO_WORK": str(tmp_path)},
    )
    assert res.returncode == 2 and "DEMO must be full, tools or tiny, not 'medium'" in res.stderr


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
    assert (run / "eval" / "base-gguf" / "base-f16.gguf").is_file()  # the base answered as a GGUF too
    results = json.loads((run / "eval" / "results.json").read_text())
    assert results["n"] == 40  # every held-out row of examples/demo/geo_heldout.jsonl
    assert results["model"] == "gguf"  # the fine-tune scored as shipped, through llama.cpp
    for metric in ("sql_exact_match", "exec_match", "exec_valid"):
        assert {"base", "tuned", "base_ci95", "tuned_ci95", "delta_ci95"} <= set(results["metrics"][metric])

    out = res.stdout
    assert "== held-out scores, base model vs fine-tune" in out
    assert "both models answer as GGUF files through llama.cpp" in out
    exec_line = next(line for line in out.splitlines() if line.strip().startswith("exec_match"))
    assert exec_line.count("[") == 3  # base, tuned and gain, each with its interval
    assert "Wilson for each model; paired bootstrap" in out
    assert "answers that needed extraction" in out and "of 40" in out
    assert "== what the fine-tune fixed" in out
    assert "total: " in out


def test_summary_shows_scores_side_by_side_and_the_questions_the_tune_fixed(tmp_path: Path) -> None:
    """summary.py on a run directory laid out as the pipeline and lm-eval write it."""
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    (run / "state.json").write_text(json.dumps({"steps": {"train": {"status": "done"}}}))
    metrics = {
        "exec_match": {"base": 0.0, "tuned": 0.1, "delta": 0.1, "base_ci95": [0.0, 0.09], "tuned_ci95": [0.04, 0.23]},
        "sql_extracted": {"base": 1.0, "tuned": 0.0, "delta": -1.0},
    }
    metrics["exec_match"]["delta_ci95"] = [0.025, 0.2]
    (run / "eval" / "results.json").write_text(json.dumps({"n": 40, "model": "gguf", "metrics": metrics}))
    for label, right in (("base", set()), ("gguf", {1, 2, 3, 4})):
        folder = run / "eval" / label / "axowrap_domain" / "model"
        folder.mkdir(parents=True)
        samples = [
            {
                "doc_id": i,
                "doc": {"question": f"question {i}?"},
                "filtered_resps": [f"```sql\nSELECT {i} FROM {label};\n```" if label == "base" else f"SELECT {i};"],
                "exec_match": float(i in right),
            }
            for i in range(40)
        ]
        (folder / "samples_axowrap_domain_2026.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    res = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo" / "summary.py"), str(run)],
        capture_output=True,
        text=True,
        check=True,
    )
    out = res.stdout
    line = next(line for line in out.splitlines() if line.strip().startswith("exec_match"))
    assert line.split() == [
        "exec_match",
        "0.000",
        "[0.00,",
        "0.09]",
        "0.100",
        "[0.04,",
        "0.23]",
        "+0.100",
        "[+0.03,",
        "+0.20]",
    ]
    assert "sql_extracted" not in out.split("answers that needed")[0]  # not a score: not in the table
    assert "base 40 of 40, tuned 0 of 40" in out  # answers that needed extraction
    assert "4 held-out questions fixed by the fine-tune (exec_match 0 -> 1); the first 3:" in out
    assert "question: question 1?" in out and "question: question 4?" not in out
    assert "    base: SELECT 1 FROM base;\n        -> does not return the gold rows" in out
    assert "    tuned: SELECT 1;\n        -> returns the gold rows" in out
