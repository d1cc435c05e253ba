"""The runner without training: run directories, fingerprints, dry-run, progress parsing,
child processes and signals, checkpoint completeness, status."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from axowrap.hashing import canonical_sha256
from axowrap.run.checkpoints import newest_complete, problem
from axowrap.run.child import run_child, step_failed
from axowrap.run.events import Events
from axowrap.run.pipeline import prepare_run, run_dir_for
from axowrap.run.progress import ProgressParser, Sink
from axowrap.run.state import load_state
from axowrap.steps.base import StepContext
from axowrap.steps.registry import get_step
from axowrap.validate import load_spec

# Real trainer output (Axolotl 0.19 / HF Trainer): tqdm refreshes end in \r, log dicts follow.
TRAINER_OUTPUT = (
    "  0%|          | 0/6 [00:00<?, ?it/s]\r 17%|█▋        | 1/6 [00:01<00:06,  1.20s/it]\r"
    "                                             {'loss': '6.345', 'grad_norm': '1.012', 'learning_rate': '0.0002', "
    "'ppl': '569.5', 'tokens/trainable': 566, 'tokens/total': 1024, 'epoch': '0.06667'}\n"
    " 17%|█▋        | 1/6 [00:01<00:06,  1.20s/it]\r 33%|███▎      | 2/6 [00:01<00:02,  1.70it/s]\r"
    "                                             {'loss': '6.322', 'grad_norm': '1.086', 'learning_rate': '0.0001866', "
    "'tokens/train_per_sec_per_gpu': '3107', 'tokens/total': 2048, 'epoch': '0.1333'}\n"
    "Saving the dataset (1/1 shards): 100%|██████████| 59/59 [00:01<00:00, 43.71 examples/s]\n"
    "                                             {'train_runtime': '3.07', 'train_samples_per_second': '3.909', "
    "'train_loss': '6.298', 'epoch': '0.4'}\n"
)


def records(text: str) -> list[str]:
    import re

    return re.split(r"\r\n|\r|\n", text)


def test_progress_parser_reads_step_loss_lr_tokens_eta() -> None:
    parser = ProgressParser()
    events = [ev for rec in records(TRAINER_OUTPUT) for ev in parser.feed(rec)]
    metrics = [e for e in events if e["event"] == "metrics"]
    assert [(e["step"], e["total"], e["loss"]) for e in metrics] == [(1, 6, 6.345), (2, 6, 6.322)]
    assert metrics[1]["lr"] == pytest.approx(1.866e-4) and metrics[1]["tokens_per_s"] == 3107.0
    assert metrics[0]["eta_s"] == 6.0 and metrics[1]["eta_s"] == 2.0
    # the dataset bar (it has a label) is not training progress
    assert [e["total"] for e in events if e["event"] == "progress"] == [6, 6, 6]
    assert events[-1] == {
        "event": "summary",
        "step": 2,
        "total": 6,
        "eta_s": 2.0,
        "train_runtime": 3.07,
        "train_loss": 6.298,
        "epoch": 0.4,
    }


def test_plain_and_json_sinks() -> None:
    plain: list[str] = []
    sink = Sink(Events(plain.append))
    for rec in records(TRAINER_OUTPUT):
        sink.record(rec)
    assert plain[0] == "step 1/6  loss 6.3450  lr 0.0002  eta 0:06"
    assert plain[1] == "step 2/6  loss 6.3220  lr 0.000187  3107 tok/s  eta 0:02"
    assert any(line.startswith("Saving the dataset") for line in plain)  # other lines pass through
    assert not any("{'loss'" in line or "it/s]" in line and "%|" in line for line in plain)
    events: list[str] = []
    sink = Sink(Events(events.append, json_lines=True))
    for rec in records(TRAINER_OUTPUT):
        sink.record(rec)
    parsed = [json.loads(line) for line in events]  # nothing but JSON on stdout
    assert {p["event"] for p in parsed} == {"progress", "metrics", "summary"}


def test_rich_sink_bar_follows_the_trainer() -> None:
    from axowrap.run.progress import RichSink

    sink = RichSink(Events(lambda _line: None, tty=True))
    for rec in records(TRAINER_OUTPUT):
        sink.record(rec)
    task = sink.progress.tasks[0]
    sink.close()
    assert (task.completed, task.total) == (2, 6)
    assert task.fields["info"] == "loss 6.3220  lr 0.000187  3107 tok/s  eta 0:02"


def test_run_dir_name_is_spec_name_plus_path_hash(workdir: Path) -> None:
    spec = Path("examples/sql.yaml")
    run = prepare_run(spec, Path("runs"))
    import hashlib

    tag = hashlib.sha256(str(spec.resolve()).encode()).hexdigest()[:8]
    assert run.root == (workdir / "runs" / f"sql-{tag}")
    assert run_dir_for(spec, "sql", Path("runs")) == run
    for path in (run.spec, run.config, run.manifest, run.data / "train-0.jsonl"):
        assert path.is_file(), path
    manifest = json.loads(run.manifest.read_text())
    assert manifest["spec"]["sha256"] == load_spec(spec).sha256
    assert manifest["base_model"] == {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": "main"}
    assert manifest["datasets"][0]["source"] == "data/sql.jsonl"
    assert len(manifest["datasets"][0]["sha256"]) == 64
    assert {"axowrap", "axolotl", "torch", "transformers", "peft", "trl", "accelerate"} <= set(manifest["versions"])
    assert manifest["hardware"]["cpus"] == os.cpu_count()
    assert not run.state.exists()  # preparing runs nothing


def _train_fingerprint(run) -> str:
    step = get_step("train")
    import yaml

    manifest = json.loads(run.manifest.read_text())
    ctx = StepContext(
        name="train",
        run=run,
        spec=manifest["spec"]["effective"],
        config=yaml.safe_load(run.config.read_text()),
        log=run.log("train"),
    )
    return canonical_sha256(step.params(ctx))


def test_train_fingerprint_ignores_export_but_not_training(workdir: Path) -> None:
    spec = Path("examples/sql.yaml")
    first = _train_fingerprint(prepare_run(spec))
    text = spec.read_text()
    spec.write_text(text.replace("gguf: [q4_k_m]", "gguf: [q8_0, f16]"))
    assert _train_fingerprint(prepare_run(spec)) == first
    spec.write_text(text.replace("learning_rate: 2.0e-4", "learning_rate: 1.0e-3"))
    assert _train_fingerprint(prepare_run(spec)) != first


def test_dry_run_prints_argv_and_env_and_runs_nothing(workdir: Path) -> None:
    res = run_cli("run", "examples/sql.yaml", "--steps", "train", "--dry-run")
    assert res.code == 0, res.err
    run = run_dir_for(Path("examples/sql.yaml"), "sql", Path("runs"))
    assert f"would run: {Path(sys.executable).parent / 'accelerate'} launch --num_processes 1" in res.out
    assert f"-m axowrap.run.train_main {run.config}" in res.out
    assert "environment changes: AXOLOTL_DO_NOT_TRACK=1 DO_NOT_TRACK=1 MLFLOW_DISABLE_TELEMETRY=true" in res.out
    assert not run.state.exists() and not run.adapter.exists() and not run.logs.exists()


def test_step_needing_an_unfinished_step_is_refused(workdir: Path) -> None:
    run = prepare_run(Path("examples/sql.yaml"))
    res = run_cli("merge", str(run.root))
    assert res.code == 1
    assert "step merge needs train, which is not done for the current spec" in res.err


def test_status_of_a_folder_that_is_no_run(tmp_path: Path) -> None:
    res = run_cli("status", str(tmp_path))
    assert res.code == 2
    assert "not a run directory (no manifest.json / axolotl.yaml)" in res.err


def test_unknown_step_is_a_usage_error(workdir: Path) -> None:
    res = run_cli("run", "examples/sql.yaml", "--steps", "trian", "--dry-run")
    assert res.code == 2
    assert "step 'trian': not a step" in res.err


def test_run_child_tees_and_reports_failure(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "x.log"
    seen: list[str] = []
    argv = [sys.executable, "-c", "import sys; print('one'); print('two\\rthree', flush=True); sys.exit(3)"]
    result = run_child(argv, env={}, log=log, on_record=seen.append)
    code, tail = result.code, result.tail
    assert (code, result.interrupted) == (3, False)
    assert tail == ["one", "two", "three"]
    assert b"one\ntwo\rthree\n" in log.read_bytes()
    err = step_failed("x", argv, code, log, tail)
    assert err.message.startswith("step x failed: exit code 3 from `")
    assert "three" in (err.hint or "") and f"full log: {log}" in (err.hint or "")


def test_run_child_forwards_sigint_to_the_group(tmp_path: Path) -> None:
    # A child that starts a grandchild; both must get the forwarded signal. Each says it is
    # ready from inside its `try`, and SIGINT is sent only once both have said so (under load the
    # grandchild can start seconds after the child: no fixed delay).
    script = (
        "import subprocess, sys, time\n"
        "try:\n"
        "    g = subprocess.Popen([sys.executable, '-c', 'import time\\ntry:\\n print(\"grandchild ready\", flush=True)\\n"
        ' time.sleep(60)\\nexcept KeyboardInterrupt:\\n print("grandchild interrupted", flush=True)\'])\n'
        "    print('child ready', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n    g.wait(); print('child interrupted', flush=True); sys.exit(0)\n"
    )
    seen: list[str] = []

    def on_record(rec: str) -> None:
        seen.append(rec)
        if rec in ("child ready", "grandchild ready") and {"child ready", "grandchild ready"} <= set(seen):
            os.kill(os.getpid(), signal.SIGINT)

    result = run_child([sys.executable, "-c", script], env={}, log=tmp_path / "x.log", on_record=on_record)
    assert result.interrupted is True and result.code == 0
    assert "grandchild interrupted" in seen and "child interrupted" in seen
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


@pytest.mark.axolotl
def test_newest_complete_checkpoint_skips_truncated_ones(tiny_adapter: Path, tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    shutil.copytree(tiny_adapter, out)
    assert newest_complete(out).checkpoint == out / "checkpoint-6"
    opt = out / "checkpoint-6" / "optimizer.pt"
    opt.write_bytes(opt.read_bytes()[: opt.stat().st_size // 2])
    found = newest_complete(out)
    assert found.checkpoint == out / "checkpoint-3"
    assert found.warnings == ["checkpoint checkpoint-6 is incomplete (optimizer.pt is truncated): not resuming from it"]
    weights = out / "checkpoint-3" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert problem(out / "checkpoint-3") == "adapter_model.safetensors is truncated"
    assert newest_complete(out).checkpoint is None
    (out / "checkpoint-6" / "trainer_state.json").write_text("{")
    assert problem(out / "checkpoint-6") == "trainer_state.json is unreadable"


def test_state_file_is_written_atomically_and_read_back(workdir: Path) -> None:
    from axowrap.run.state import update_step

    run = prepare_run(Path("examples/sql.yaml"))
    update_step(run, "train", status="failed", error={"message": "boom"})
    assert load_state(run)["steps"]["train"]["status"] == "failed"
    assert [p.name for p in run.root.iterdir() if p.name.startswith(".state")] == []
    run.state.write_text("{not json")
    res = run_cli("status", str(run.root))
    assert res.code == 1 and "state.json: damaged run state: invalid JSON" in res.err


def test_dry_run_of_every_step_before_anything_exists(workdir: Path) -> None:
    from axowrap.steps.registry import STEPS

    res = run_cli("run", "examples/sql.yaml", "--dry-run")
    assert res.code == 0, res.err
    for step in STEPS:
        if step.name != "push":  # sql.yaml asks for no upload
            assert f"==> {step.name}: dry-run" in res.out
    run = run_dir_for(Path("examples/sql.yaml"), "sql", Path("runs"))
    assert not run.state.exists() and not run.adapter.exists()


def test_progress_steps_advance_when_the_bar_lags_the_log_dicts() -> None:
    """tqdm throttles redraws: on a fast machine the log dicts can all arrive before the bar moves."""
    parser = ProgressParser(logging_steps=2)
    recs = ["  0%|          | 0/6 [00:00<?, ?it/s]"] + [
        f"{{'loss': '6.{i}', 'learning_rate': '0.0002', 'epoch': '0.{i}'}}" for i in range(4)
    ]
    steps = [e["step"] for r in recs for e in parser.feed(r) if e["event"] == "metrics"]
    assert steps == [2, 4, 6, 6]  # never past the total
    resumed = ProgressParser(step=4, logged_step=4)
    assert [e["step"] for e in resumed.feed("{'loss': '1.0', 'epoch': '0.5'}")] == [5]


def test_progress_reads_a_bar_sharing_a_record_with_a_log_dict() -> None:
    """tqdm.write can leave the bar and the log dict on one line; dataset bars (examples/s) are no steps."""
    parser = ProgressParser()
    rec = (
        " 17%|█▋        | 1/6 [00:00<00:04,  1.04it/s] 33%|███▎      | 2/6 [00:01<00:01,  2.12it/s]"
        "        {'loss': '6.306', 'learning_rate': '0.0002', 'epoch': '0.2'}"
    )
    assert parser.feed("100%|██████████| 59/59 [00:00<00:00, 327.92 examples/s]") == []
    events = parser.feed(rec)
    assert [(e["event"], e["step"], e["total"]) for e in events] == [("progress", 2, 6), ("metrics", 2, 6)]


def test_progress_events_carry_axolotls_gpu_memory() -> None:
    """Axolotl logs torch's GPU memory with each step (the GPU bench compares its peak with the plan)."""
    parser = ProgressParser(total=6)
    rec = (
        "{'loss': '1.2', 'memory/max_active (GiB)': '3.1', 'memory/max_allocated (GiB)': '2.75', "
        "'memory/device_reserved (GiB)': '4.5', 'epoch': '0.5'}"
    )
    (event,) = parser.feed(rec)
    assert event["gpu_max_allocated_gib"] == 2.75 and event["gpu_reserved_gib"] == 4.5


def test_progress_ignores_preparation_bars() -> None:
    parser = ProgressParser(total=6)
    assert parser.feed("100%|██████████| 21/21 [00:00<00:00, 52.1it/s]") == []  # another length
    labelled = ProgressParser()
    assert labelled.feed("Tokenizing Prompts (num_proc=2): 100%|████| 21/21 [00:01<00:00, 15.2it/s]") == []
    assert [e["step"] for e in parser.feed(" 17%|█▋        | 1/6 [00:00<00:04,  1.04it/s]")] == [1]
