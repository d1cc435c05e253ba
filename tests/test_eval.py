"""The eval step end to end: real Axolotl training through the runner, real lm-eval runs of the
generated task on the base model and the adapter, the LLM judge against an OpenAI-compatible
server, a standard task whose data is not offline, and the gate stopping the pipeline."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_spec
from helpers import run_cli

from axowrap.errors import StepFailed
from axowrap.run.events import Events

# A judge that answers like real models do: a score line, JSON, and once nothing usable.
REPLIES = ["Score: 7\nMostly right.", '{"score": 3, "reason": "wrong table"}', "I cannot grade this."]


class JudgeHandler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/chat/completions" or not body.get("messages"):
            self.send_error(404)
            return
        reply = REPLIES[len(self.requests) % len(REPLIES)]
        self.requests.append(body)
        data = json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def judge_url() -> Iterator[str]:
    JudgeHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def eval_spec(folder: Path, model: Path, eval_section: str) -> Path:
    spec = tiny_spec(folder, model)
    spec.write_text(spec.read_text().replace("eval: {holdout: 0.1}", eval_section), encoding="utf-8")
    return spec


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.axolotl
@pytest.mark.slow
def test_train_eval_gate_through_the_runner(tiny_model: Path, tmp_path: Path, judge_url: str) -> None:
    from axowrap.run.pipeline import prepare_run, run_steps
    from axowrap.run.state import load_state
    from axowrap.steps.registry import STEPS

    spec = eval_spec(
        tmp_path / "spec",
        tiny_model,
        "eval: {holdout: 0.1, lm_eval: [arc_easy], require: {sql_exact_match: 0.9},\n"
        f"       judge: {{endpoint: '{judge_url}', model: judge, rubric: 'Is the SQL right?'}}}}",
    )
    run = prepare_run(spec, runs_root=tmp_path / "runs")
    steps = [s.name for s in STEPS if s.name in ("train", "eval", "push")]
    with pytest.raises(StepFailed, match=r"eval gate failed: sql_exact_match = 0\S*, below the required 0.9"):
        run_steps(run, steps, options={"max_gen_toks": 8}, events=Events(lambda _line: None))

    state = load_state(run)["steps"]
    assert state["train"]["status"] == "done"
    assert state["eval"]["status"] == "failed" and "gate" in state["eval"]["error"]["message"]
    assert "push" not in state  # the runner stopped at the failed gate

    held = [json.loads(line) for line in (run.data / "holdout.jsonl").read_text().splitlines()]
    results = json.loads((run.eval / "results.json").read_text())
    assert results["n"] == len(held) > 0
    row = results["metrics"]["sql_exact_match"]
    assert (
        isinstance(row["base"], float)
        and isinstance(row["tuned"], float)
        and row["delta"] == row["tuned"] - row["base"]
    )
    assert results["gate"]["passed"] is False and results["gate"]["failures"][0].startswith("sql_exact_match = ")

    # the generated task: absolute data path, one doc per held-out row, prompts as in training
    task = (run.eval / "task" / "axowrap_domain.yaml").read_text()
    docs = [json.loads(line) for line in (run.eval / "task" / "docs.jsonl").read_text().splitlines()]
    assert f"test: {run.eval / 'task' / 'docs.jsonl'}" in task and Path(str(run.eval)).is_absolute()
    assert [d["target"] for d in docs] == [r["answer"] for r in held]
    assert (
        docs[0]["prompt"]
        == f"### Database schema:\n{held[0]['context']}\n\n### Question:\n{held[0]['question']}\n\n### SQL:\n"
    )
    # both models really ran and answered differently (the adapter is applied)
    answers = {}
    for label in ("base", "adapter"):
        samples = next((run.eval / label / "axowrap_domain").rglob("samples_*.jsonl")).read_text().splitlines()
        answers[label] = [json.loads(s)["filtered_resps"][0] for s in samples]
        assert len(answers[label]) == len(held)
    assert answers["base"] != answers["adapter"]
    assert (run.eval / "base" / "axowrap_domain" / "axowrap-inputs.sha256").is_file()  # base results reusable
    assert not (run.eval / "adapter" / "axowrap_domain" / "axowrap-inputs.sha256").exists()

    # the table in the report has both models' columns
    report = (run.eval / "report.md").read_text()
    assert "| metric | base | tuned | delta |" in report and "| sql_exact_match | 0.0000 [0.00, " in report
    assert "| judge_score |" in report and "Gate failed" in report

    # the standard task without offline data: named, with the fix; the domain eval still ran
    assert (
        "allenai/ai2_arc" in results["lm_eval_errors"]["arc_easy"]
        and "eval.lm_eval" in results["lm_eval_errors"]["arc_easy"]
    )
    assert "arc_easy" in report

    # the judge: every answer of both models judged, raw replies saved, unparsable ones counted
    assert len(JudgeHandler.requests) == 2 * len(held)
    assert "Is the SQL right?" in JudgeHandler.requests[0]["messages"][0]["content"]
    assert JudgeHandler.requests[0]["max_tokens"] == 256  # a judge that keeps talking is cut
    raw = [json.loads(line) for line in (run.eval / "judge-base.jsonl").read_text().splitlines()]
    assert [r["judge_raw"] for r in raw] == [REPLIES[i % 3] for i in range(len(held))]
    scores = [r["score"] for r in raw]
    assert scores[:3] == [0.7, 0.3, None][: len(scores)]
    judged = [s for s in scores if s is not None]
    assert results["metrics"]["judge_score"]["base"] == pytest.approx(sum(judged) / len(judged))
    assert results["judge"]["base"]["unparsed"] == scores.count(None)

    # the held-out rows are absent from what Axolotl trained on (its prepared dataset)
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    prepared = [p.parent for p in (run.adapter / "prepared").rglob("dataset_info.json")]
    assert prepared, "Axolotl wrote no prepared dataset"
    texts = [_squash(tok.decode(ids)) for p in prepared for ids in load_from_disk(str(p))["input_ids"]]
    train_rows = [json.loads(line) for line in (run.data / "train-0.jsonl").read_text().splitlines()]
    assert len(train_rows) - 3 <= len(texts) <= len(train_rows)  # Axolotl drops rows longer than sequence_len
    assert all(any(_squash(r["answer"]) in t for t in texts) for r in train_rows[:5])  # the check can see rows
    assert not any(_squash(r["answer"]) in t for r in held for t in texts)


def test_eval_cli_dry_run_and_model_choice(tmp_path: Path) -> None:
    from axowrap.run.pipeline import prepare_run

    spec = eval_spec(tmp_path / "spec", tmp_path / "no-model-needed", "eval: {holdout: 0.1}")
    run = prepare_run(spec, runs_root=tmp_path / "runs")
    res = run_cli("eval", str(run.root), "--dry-run")
    assert res.code == 0, res.err
    assert "would score base, adapter on the held-out rows" in res.out
    res = run_cli("eval", str(run.root), "--dry-run", "--model", "gguf")
    assert res.code == 0, res.err
    assert "would score base, gguf on the held-out rows" in res.out
    res = run_cli("eval", str(run.root), "--dry-run", "--gguf-type", "q8_0")
    assert res.code == 2 and "--gguf-type goes with --model gguf" in res.err
    res = run_cli("eval", str(run.root), "--model", "merged")
    assert res.code == 1 and "needs train" in res.err
