"""Scoring a GGUF: the eval step serves the run's GGUF with llama.cpp (llama-cpp-python's
server on a free local port), lm-eval's `local-completions` model sends it the same prompts,
and the answers are llama.cpp's own; the LLM-judge path against that real server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from axowrap.errors import AxowrapError
from axowrap.run.rundir import RunDir

pytestmark = [pytest.mark.axolotl, pytest.mark.slow]


@pytest.fixture
def gguf_eval_run(
    tiny_model: Path, tiny_adapter: Path, gguf_run: tuple[RunDir, dict[str, Any]], tmp_path: Path
) -> RunDir:
    """A run with the trained adapter, the real q8_0 GGUF and 4 held-out sql rows."""
    from conftest_export import make_run

    run = make_run(tmp_path / "run", tiny_model, tiny_adapter)
    source, _ = gguf_run
    run.gguf.mkdir(parents=True)
    for path in source.gguf.glob("*-q8_0.gguf"):
        shutil.copy2(path, run.gguf / path.name)
    rows = (run.root / "src" / "data" / "sql.jsonl").read_text().splitlines()[:4]
    run.data.mkdir(parents=True, exist_ok=True)
    (run.data / "holdout.jsonl").write_text("\n".join(rows) + "\n")
    return run


def test_eval_scores_the_gguf_through_llama_cpp(gguf_eval_run: RunDir) -> None:
    from conftest_export import context
    from llama_cpp import Llama

    from axowrap.evaluation.tasks import STOP
    from axowrap.steps.eval import STEP

    run = gguf_eval_run
    ctx = context(run, "eval", options={"model": "gguf", "gguf_type": "q8_0", "max_gen_toks": 8})
    result = STEP.run(ctx)

    assert result["model"] == "gguf" and result["n"] == 4
    row = json.loads((run.eval / "results.json").read_text())["metrics"]["sql_exact_match"]
    assert isinstance(row["base"], float) and isinstance(row["tuned"], float)
    # The tuned answers are llama.cpp's greedy completions of the same prompts with the same stops.
    samples = [
        json.loads(s)
        for s in next((run.eval / "gguf" / "axowrap_domain").rglob("samples_*.jsonl")).read_text().splitlines()
    ]
    assert len(samples) == 4
    gguf = next(run.gguf.glob("*-q8_0.gguf"))
    llm = Llama(model_path=str(gguf), n_ctx=1024, verbose=False)
    for sample in samples[:2]:
        direct = llm.create_completion(sample["doc"]["prompt"], max_tokens=8, temperature=0.0, stop=STOP)["choices"][0][
            "text"
        ]
        assert sample["filtered_resps"][0].strip() == direct.strip()
    # The base model is scored the same way: converted to a GGUF of the same type, served by llama.cpp.
    base_gguf = run.eval / "base-gguf" / "base-q8_0.gguf"
    base_samples = [
        json.loads(s)
        for s in next((run.eval / "base" / "axowrap_domain").rglob("samples_*.jsonl")).read_text().splitlines()
    ]
    base_llm = Llama(model_path=str(base_gguf), n_ctx=1024, verbose=False)
    for sample in base_samples[:2]:
        direct = base_llm.create_completion(sample["doc"]["prompt"], max_tokens=8, temperature=0.0, stop=STOP)
        assert sample["filtered_resps"][0].strip() == direct["choices"][0]["text"].strip()
    # 0/1 per row: 95% intervals for each model and for the gain
    assert len(row["base_ci95"]) == len(row["tuned_ci95"]) == len(row["delta_ci95"]) == 2
    assert row["base_ci95"][0] <= row["base"] <= row["base_ci95"][1]
    log = run.log("eval").read_text()
    assert "llama_cpp.server" in log or "Uvicorn" in log or "uvicorn" in log  # the server's output went to the step log
    assert "| sql_exact_match |" in (run.eval / "report.md").read_text()


def test_gguf_eval_refuses_log_likelihood_metrics(gguf_eval_run: RunDir) -> None:
    from conftest_export import context

    from axowrap.steps.eval import STEP

    ctx = context(gguf_eval_run, "eval", options={"model": "gguf"})
    ctx.spec["eval"] = {"holdout": 0.1, "metric": "perplexity"}
    with pytest.raises(AxowrapError, match="metric 'perplexity' scores log-likelihoods") as err:
        STEP.run(ctx)
    assert "--model merged" in (err.value.hint or "")


def test_judge_parses_the_real_llama_cpp_server(gguf_run: tuple[RunDir, dict[str, Any]], tmp_path: Path) -> None:
    """The judge path against a real OpenAI-compatible server (the tiny GGUF: parsing, not quality)."""
    from axowrap.evaluation.judge import judge_samples
    from axowrap.serve.server import running

    run, _ = gguf_run
    gguf = next(run.gguf.glob("*-q8_0.gguf"))
    rows = [
        {
            "prompt": "Count the users.",
            "reference": "SELECT count(*) FROM users",
            "answer": "SELECT count(*) FROM users",
        },
        {"prompt": "List the names.", "reference": "SELECT name FROM users", "answer": "DROP TABLE users"},
    ]
    with running(gguf, tmp_path / "server.log") as url:
        info = judge_samples(
            rows, {"endpoint": url, "model": "tiny", "rubric": "Is the SQL right?"}, tmp_path / "judge.jsonl"
        )
    saved = [json.loads(line) for line in (tmp_path / "judge.jsonl").read_text().splitlines()]
    assert [s["answer"] for s in saved] == [r["answer"] for r in rows]
    assert all(isinstance(s["judge_raw"], str) for s in saved)  # the server's real replies, kept verbatim
    assert all(s["score"] is None or 0.0 <= s["score"] <= 1.0 for s in saved)
    assert info["judged"] == 2 and info["unparsed"] == sum(s["score"] is None for s in saved)


def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    from axowrap.serve.server import running

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00 not really")
    with pytest.raises(AxowrapError, match="exited with code") as err:
        with running(bad, tmp_path / "server.log", start_timeout=120):
            pass
    assert str(tmp_path / "server.log") in (err.value.hint or "")
