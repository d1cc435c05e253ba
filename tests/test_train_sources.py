"""`axowrap run` trains on what `validate` accepts, for real (Axolotl on the tiny model, CPU):
a Parquet file and a Hub dataset (served by tests/hub_server.py, fetched through the real
huggingface_hub client) in one `weight:` mixture; and an experiment-tracked training that is
killed and resumed into the same MLflow run, with TensorBoard event files and W&B offline
files read back by each tracker's own reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, write
from helpers import run_cli
from hub_server import Hub

from axowrap.run.checkpoints import problem
from axowrap.run.pipeline import run_dir_for
from axowrap.run.rundir import RunDir
from axowrap.run.state import load_state

pytestmark = pytest.mark.axolotl
AXOWRAP = str(Path(sys.executable).parent / "axowrap")

SPEC = """\
task: sql
base_model: {model}
datasets:
{datasets}training: {{max_steps: {steps}, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 512, save_steps: {save}}}
eval: {{holdout: 0.1}}
export: {{merge: false, gguf: []}}
compute: {{target: cpu}}
{extra}"""


def sql_rows() -> list[dict[str, Any]]:
    return [json.loads(x) for x in (EXAMPLES / "data" / "sql.jsonl").read_text(encoding="utf-8").splitlines()]


def test_trains_from_a_parquet_file_and_a_hub_dataset(
    tiny_model: Path, tmp_path: Path, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sql_rows()
    pq.write_table(pa.Table.from_pylist(rows[:30]), tmp_path / "sql.parquet")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows[30:]), sink)
    sha = hub.add_dataset(
        "org/sql-rows", {"default/train/0000.parquet": sink.getvalue()}, revision="refs/convert/parquet"
    )
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    datasets = (
        "  - {path: sql.parquet, weight: 1}\n"
        "  - {path: org/sql-rows, revision: refs/convert/parquet, name: default, weight: 1}\n"
    )
    spec = write(tmp_path / "tiny.yaml", SPEC.format(model=tiny_model, datasets=datasets, steps=4, save=4, extra=""))
    runs = tmp_path / "runs"
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs))
    assert res.code == 0, res.err + res.out
    run = run_dir_for(spec, "tiny", runs)
    assert (run.adapter / "adapter_model.safetensors").is_file()
    manifest = json.loads(run.manifest.read_text())
    assert manifest["datasets"][1]["hub"]["sha"] == sha and manifest["mixture"]["seed"] == 42
    counts = [len(Path(d["path"]).read_text().splitlines()) for d in manifest["datasets"]]
    assert abs(counts[0] - counts[1]) <= 1  # equal weights, equal shares of the training rows (an odd total)
    log = run.log("train").read_text()
    assert "train-0.jsonl" in run.config.read_text() and "train-1.jsonl" in run.config.read_text()
    assert "Traceback" not in log


def _complete(run: RunDir) -> list[Path]:
    found = sorted(run.adapter.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return [p for p in found if problem(p) is None]


def _wait_for(what: str, check: Any, proc: subprocess.Popen[str], run: RunDir, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"axowrap exited ({proc.returncode}) before {what}:\n{out}")
        time.sleep(0.1)
    pid = load_state(run)["steps"].get("train", {}).get("pid")
    if pid:  # leave no training behind
        os.killpg(pid, signal.SIGKILL)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


def test_tracked_training_resumes_into_the_same_tracker_runs(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = tmp_path / "spec"
    write(folder / "data" / "sql.jsonl", (EXAMPLES / "data" / "sql.jsonl").read_text())
    store = tmp_path / "mlruns"
    extra = (
        "tracking:\n"
        f"  mlflow: {{tracking_uri: '{store}', experiment: tiny-sql}}\n"
        "  tensorboard: true\n"
        "  wandb: {project: tiny-sql, mode: offline}\n"
    )
    plain = SPEC.format(model=tiny_model, datasets="  - {path: data/sql.jsonl}\n", steps=8, save=1, extra="")
    spec = write(folder / "tiny.yaml", plain + extra)
    runs = tmp_path / "runs"
    run = run_dir_for(spec, "tiny", runs)
    argv = [AXOWRAP, "run", str(spec), "--steps", "train", "--runs-dir", str(runs)]

    # 1. Kill the training once a checkpoint is complete; 2. rerun: it resumes.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for("a first checkpoint", lambda: _complete(run), proc, run)
    os.killpg(load_state(run)["steps"]["train"]["pid"], signal.SIGKILL)
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 1, out
    first = load_state(run)["tracking"]
    killed_at = max(int(p.name.split("-")[1]) for p in _complete(run))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resuming from checkpoint-{killed_at}" in done.stdout
    state = load_state(run)
    assert "error" not in state["tracking"], state["tracking"]["error"]  # every tracker took the run's files
    assert state["tracking"]["mlflow"]["run_id"] == first["mlflow"]["run_id"]
    assert state["tracking"]["wandb"]["id"] == first["wandb"]["id"]

    # MLflow: one run, metrics from both launches, TrainingArguments params, the run's files.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads a file store only when allowed
    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("tiny-sql")
    (only,) = client.search_runs([experiment.experiment_id])
    assert only.info.run_id == first["mlflow"]["run_id"]
    steps = sorted({m.step for m in client.get_metric_history(only.info.run_id, "loss")})
    assert killed_at < 8 and steps == list(range(1, 9))  # none lost: what MLflow still buffered is backfilled
    assert only.data.params["max_steps"] == "8" and only.data.params["axowrap.task"] == "sql"
    artifacts = {a.path for a in client.list_artifacts(only.info.run_id, "axowrap")}
    assert {"axowrap/spec.yaml", "axowrap/axolotl.yaml", "axowrap/manifest.json", "axowrap/report.md"} <= artifacts

    # TensorBoard: one log folder for the run directory, its scalars readable.
    tb = Path(state["tracking"]["tensorboard"]["dir"])
    acc = EventAccumulator(str(tb))
    acc.Reload()
    assert "train/loss" in acc.Tags()["scalars"] and "axowrap/report" in acc.Tags()["tensors"]
    assert max(e.step for e in acc.Scalars("train/loss")) == 8

    # W&B offline: its files in the run directory, under the one run id.
    offline = sorted((run.root / "tracking" / "wandb").glob(f"offline-run-*-{first['wandb']['id']}"))
    assert offline and all((d / f"run-{first['wandb']['id']}.wandb").is_file() for d in offline)
    assert any((d / "files" / "report.md").exists() for d in offline)  # the run's files, logged at the end

    # status and report.md link the runs.
    status = run_cli("status", str(run.root)).out
    assert f"MLflow run: {only.info.run_id}" in status and "TensorBoard: `tensorboard --logdir" in status
    assert f"W&B run: {first['wandb']['id']} (offline" in run.report.read_text()

    # Switching tracking off (or on again) never re-trains.
    spec.write_text(plain)
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs))
    assert res.code == 0 and "==> train: skipped (up to date)" in res.out
