"""`axowrap run --steps train` for real: accelerate + Axolotl on the tiny model, on CPU.

Covers: a full train (adapter, manifest, state, report, loss.png, --json events); an
export-only spec change does not re-train; SIGKILL of the training -> rerun resumes;
SIGINT -> exit 130, interrupted, rerun resumes; a truncated newest checkpoint is skipped;
a failing launch names step, command, exit code, log tail and log path, and status shows it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_spec
from helpers import run_cli

from axowrap.run.checkpoints import newest_complete, problem
from axowrap.run.pipeline import prepare_run, run_dir_for
from axowrap.run.rundir import RunDir
from axowrap.run.state import load_state

pytestmark = pytest.mark.axolotl
AXOWRAP = str(Path(sys.executable).parent / "axowrap")


def test_run_train_produces_adapter_manifest_state_report(tiny_model: Path, tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "spec", tiny_model)
    runs = tmp_path / "runs"
    res = run_cli("run", str(spec), "--steps", "train", "--json", "--runs-dir", str(runs))
    assert res.code == 0, res.err + res.out
    events = [json.loads(line) for line in res.out.splitlines()]  # --json: only JSON lines
    metrics = [e for e in events if e.get("event") == "metrics"]
    assert [e["step"] for e in metrics] == [1, 2, 3, 4, 5, 6] and all(e["total"] == 6 for e in metrics)
    assert all("loss" in e and "lr" in e for e in metrics)
    assert events[-1]["event"] == "finished"

    run = run_dir_for(spec, "tiny", runs)
    assert (run.adapter / "adapter_model.safetensors").is_file()
    assert (run.adapter / "checkpoint-6" / "trainer_state.json").is_file()
    entry = load_state(run)["steps"]["train"]
    assert entry["status"] == "done" and len(entry["fingerprint"]) == 64 and entry["error"] is None
    # the outputs checked whole and recorded (size, sha256), named relative to the run directory
    assert entry["outputs"] == sorted(entry["recorded"]) and "adapter/adapter_model.safetensors" in entry["recorded"]
    assert entry["result"]["global_step"] == 6 and entry["result"]["resumed_from"] is None
    manifest = json.loads(run.manifest.read_text())
    assert manifest["base_model"]["path"] == str(tiny_model.resolve()) and len(manifest["base_model"]["sha256"]) == 64
    assert manifest["datasets"][0]["path"] == str(run.data / "train-0.jsonl")
    from axowrap.releases import installed

    assert manifest["versions"]["axolotl"] == installed()
    assert manifest["env"]["AXOLOTL_DO_NOT_TRACK"] == "1"
    assert (run.root / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Training" in run.report.read_text() and "![loss](loss.png)" in run.report.read_text()
    assert "===== axowrap" in run.log("train").read_text()

    # The plan against what this real run measured: tokens/s from Axolotl's log; no GPU memory on CPU.
    res = run_cli("plan", "--from-run", str(run.root), "--json")
    assert res.code == 0, res.err
    measured = json.loads(res.out)
    assert measured["steps"] == 6 and measured["measured_tokens_per_s"] > 0
    assert measured["measured_peak_reserved_gb"] is None and measured["target"] == "cpu"
    res = run_cli("plan", "--calibrate", str(run.root))
    assert res.code == 1 and "ran on cpu: there is no GPU memory or TFLOPs figure to calibrate" in res.err

    # Only an export setting changes: the run dir is reused and nothing re-trains.
    spec.write_text(spec.read_text().replace("gguf: [f16, q8_0, q4_k_m]", "gguf: [f16]"))
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs))
    assert res.code == 0, res.err
    assert "==> train: skipped (up to date)" in res.out
    assert load_state(run)["steps"]["train"]["started"] == entry["started"]

    res = run_cli("status", str(run.root))
    assert res.code == 0 and "train  done" in res.out

    # --dry-run --force: the exact command, nothing touched.
    before = (run.adapter / "adapter_model.safetensors").stat().st_mtime_ns
    res = run_cli("train", str(run.root), "--dry-run", "--force")
    assert res.code == 0, res.err
    assert (
        f"-m axowrap.run.train_main {run.config}" in res.out and "would move the previous training outputs" in res.out
    )  # never deleted
    assert (run.adapter / "adapter_model.safetensors").stat().st_mtime_ns == before


def _wait(what: str, check, proc: subprocess.Popen, timeout: float = 400.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"axowrap exited ({proc.returncode}) before {what}:\n{proc.stdout.read()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


def _complete(run: RunDir) -> list[Path]:
    found = sorted(run.adapter.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return [p for p in found if problem(p) is None]


def _start(spec: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [AXOWRAP, "run", str(spec), "--steps", "train", "--runs-dir", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen, run: RunDir, timeout: float) -> str:
    """The output of a finished axowrap; on timeout, its training group is killed too."""
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        pid = load_state(run)["steps"].get("train", {}).get("pid")
        if pid:
            os.killpg(pid, signal.SIGKILL)
        proc.kill()
        raise


def test_sigkill_sigint_and_truncated_checkpoint_all_resume(tiny_model: Path, tmp_path: Path) -> None:
    max_steps = 12
    spec = tiny_spec(tmp_path / "spec", tiny_model)
    spec.write_text(
        spec.read_text().replace("max_steps: 6", f"max_steps: {max_steps}").replace("save_steps: 3", "save_steps: 1")
    )
    runs = tmp_path / "runs"
    run = run_dir_for(spec, "tiny", runs)

    # 1. SIGKILL the training process group once a checkpoint is complete: a crash.
    proc = _start(spec, runs)
    _wait("a first checkpoint", lambda: _complete(run), proc)
    os.killpg(load_state(run)["steps"]["train"]["pid"], signal.SIGKILL)
    out = _finish(proc, run, 300)
    assert proc.returncode == 1, out
    assert "step train failed: exit code" in out
    entry = load_state(run)["steps"]["train"]
    assert entry["status"] == "failed" and entry["error"]["exit_code"] != 0
    killed_at = max(int(p.name.split("-")[1]) for p in _complete(run))
    assert killed_at < max_steps

    # 2. Rerun: resumes from the newest complete checkpoint; SIGINT it (Ctrl-C) -> 130, interrupted.
    proc = _start(spec, runs)
    _wait(
        "a checkpoint after the resume",
        lambda: any(int(p.name.split("-")[1]) > killed_at + 1 for p in _complete(run)),
        proc,
    )
    proc.send_signal(signal.SIGINT)
    out = _finish(proc, run, 300)
    assert proc.returncode == 130, out
    assert f"resuming from checkpoint-{killed_at} (global step {killed_at})" in out
    assert load_state(run)["steps"]["train"]["status"] == "interrupted"
    log = run.log("train").read_text()
    assert f"--resume_from_checkpoint={run.adapter / f'checkpoint-{killed_at}'}" in log

    # 3. Truncate the newest checkpoint's optimizer state: the rerun skips it, with a warning.
    complete = _complete(run)
    newest, fallback = complete[-1], complete[-2]
    opt = newest / "optimizer.pt"
    opt.write_bytes(opt.read_bytes()[: opt.stat().st_size // 2])
    proc = _start(spec, runs)
    out = _finish(proc, run, 600)
    assert proc.returncode == 0, out
    assert f"warning: checkpoint {newest.name} is incomplete (optimizer.pt is truncated): not resuming from it" in out
    assert f"resuming from {fallback.name}" in out
    entry = load_state(run)["steps"]["train"]
    assert entry["status"] == "done"
    assert entry["result"]["resumed_from"] == str(fallback)
    assert entry["result"]["resumed_at_step"] == int(fallback.name.split("-")[1])
    assert entry["result"]["global_step"] == max_steps
    # global_step continuity: the final trainer state logs every step once, 1..max_steps.
    final = newest_complete(run.adapter).checkpoint
    assert final is not None and final.name == f"checkpoint-{max_steps}"
    history = json.loads((final / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "loss" in h] == list(range(1, max_steps + 1))
    # kept for inspection, out of Axolotl's way: moved under superseded/, never deleted
    assert [p.name for p in (run.root / "superseded").glob(f"*/incomplete-{newest.name}") if p.is_dir()]


def test_failing_launch_names_step_command_code_log_and_status_shows_it(tiny_model: Path, tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "spec", tiny_model)
    run = prepare_run(spec, tmp_path / "runs")  # validated and prepared ...
    (run.data / "train-0.jsonl").unlink()  # ... then the training data disappears
    res = run_cli("train", str(run.root))
    assert res.code == 1
    assert "error: step train failed: exit code 1 from `" in res.err
    assert f"-m axowrap.run.train_main {run.config}`" in res.err
    assert "last lines of the log:" in res.err and f"full log: {run.log('train')}" in res.err
    entry = load_state(run)["steps"]["train"]
    assert entry["status"] == "failed" and entry["error"]["exit_code"] == 1
    assert entry["error"]["log"] == str(run.log("train")) and entry["error"]["tail"]
    status = run_cli("status", str(run.root))
    assert status.code == 0
    assert "train  failed" in status.out and "error: step train failed: exit code 1" in status.out
    assert f"log: {run.log('train')}" in status.out
    assert "## train failed" in run.report.read_text()
