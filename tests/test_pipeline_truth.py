"""Pipeline truth: a step is done only when its outputs are whole, fsynced and recorded; a
truncated or changed output is found on the next run; downstream fingerprints follow upstream
outputs; SIGKILL at every step boundary and inside every step loses nothing and marks nothing
broken done; children die with their runner; nothing a run made is deleted.

The runner drives stand-in steps (tests/faulty_steps.py) in a process of its own; the test
kills it at a point the steps announce (a file appears), never after a fixed sleep.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import faulty_steps
import pytest

from axowrap.errors import AxowrapError, StepFailed
from axowrap.run import outputs as out
from axowrap.run.events import Events
from axowrap.run.pipeline import prepare_run, run_steps
from axowrap.run.rundir import RunDir
from axowrap.run.state import load_state

TESTS = Path(__file__).resolve().parent
STEP_NAMES = [s.name for s in faulty_steps.STEPS]


def wait_for(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def run(workdir: Path) -> RunDir:
    return prepare_run(Path("examples/sql.yaml"))


def runner(run: RunDir, *names: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, str(TESTS / "faulty_steps.py"), str(run.root), *([",".join(names)] if names else [])]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def in_process(run: RunDir, names: list[str] | None = None, **kw: object) -> tuple[dict, list[str]]:
    lines: list[str] = []
    state = run_steps(run, names, steps=faulty_steps.STEPS, events=Events(lines.append), **kw)  # type: ignore[arg-type]
    return state, lines


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "superseded" not in p.parts
    }


def kill_at(run: RunDir, step: str, at: str, names: tuple[str, ...] = (), version: int = 0) -> None:
    """Run the stand-in pipeline in a process of its own and SIGKILL it when `step` pauses at
    `at`; faults.json keeps `version` for `step` afterwards (so a rerun sees the same spec)."""
    faults = {"version": {step: version}}
    (run.root / "faults.json").write_text(json.dumps({**faults, "pause": step, "at": at}))
    proc = runner(run, *names)
    try:
        wait_for(lambda: (run.root / f"paused-{step}").exists() or proc.poll() is not None, f"{step} to pause")
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        proc.kill()  # SIGKILL: no handler runs, no finally, no state written
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    (run.root / "faults.json").write_text(json.dumps(faults))
    (run.root / f"paused-{step}").unlink()


# ------------------------------------------------------------------ done means whole


def test_a_step_is_done_only_with_whole_outputs_and_their_hashes(run: RunDir) -> None:
    state, _ = in_process(run)
    assert all(state[n]["status"] == "done" for n in STEP_NAMES)
    rec = state["train"]["recorded"]
    (name, entry), *_ = rec.items()
    assert name == "adapter/adapter_model.safetensors"  # relative: a copied run directory keeps its record
    assert entry["sha256"] == hashlib.sha256((run.root / name).read_bytes()).hexdigest()
    assert set(state["merge"]["recorded"]) == {"merged/model.safetensors", "merged/config.json"}


def test_a_trainer_that_exits_0_with_a_truncated_file_is_not_done(run: RunDir) -> None:
    (run.root / "faults.json").write_text(json.dumps({"truncate": "train"}))
    with pytest.raises(StepFailed, match=r"adapter_model.safetensors is not whole: truncated or damaged safetensors"):
        in_process(run, ["train"])
    assert load_state(run)["steps"]["train"]["status"] == "failed"


def test_a_sharded_model_missing_a_shard_is_not_whole(tmp_path: Path) -> None:
    """Each shard was whole, so the record passed a model that could not load: the index's
    `weight_map` names a shard that was never written."""
    index = tmp_path / "model.safetensors.index.json"
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"a.weight": shards[0], "b.weight": shards[1]}}))
    (tmp_path / shards[0]).write_bytes(b"x")
    assert out.problem(index) == f"names 1 weight file(s) that are not beside it: {shards[1]}"
    with pytest.raises(StepFailed, match=r"index.json is not whole: names 1 weight file"):
        out.record("train", [index], tmp_path)
    (tmp_path / shards[1]).write_bytes(b"x")
    assert out.problem(index) is None


def test_a_full_fine_tune_without_weights_is_not_done(tmp_path: Path) -> None:
    """Before, its outputs were every top-level file: config.json alone counted as a trained model."""
    from axowrap.steps.train import model_files

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "debug.log").write_text("x")
    files = model_files(tmp_path)
    assert files == [tmp_path / "config.json", tmp_path / "model.safetensors"]
    with pytest.raises(StepFailed, match=r"model.safetensors is not whole: missing"):
        out.record("train", files, tmp_path)


def test_a_truncated_output_is_detected_on_the_next_run(run: RunDir) -> None:
    in_process(run)
    weights = run.adapter / "adapter_model.safetensors"
    with weights.open("r+b") as fh:
        fh.truncate(weights.stat().st_size - 10)
    state, lines = in_process(run)
    assert any("train" in ln and "its outputs changed since it ran" in ln for ln in lines), lines
    assert out.problem(weights) is None and state["train"]["status"] == "done"


def test_an_output_changed_in_place_is_detected(run: RunDir) -> None:
    in_process(run)
    config = run.merged / "config.json"
    before = config.stat()
    config.write_text(json.dumps({"model_type": "xxxxx"}))  # same size, other bytes
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    _, lines = in_process(run, ["merge"])
    assert any("merge" in ln and "content changed" in ln for ln in lines), lines


def test_a_downstream_step_needs_its_upstream_outputs_unchanged(run: RunDir) -> None:
    in_process(run)
    (run.adapter / "adapter_model.safetensors").write_bytes(faulty_steps.safetensors_bytes(10))
    with pytest.raises(AxowrapError, match="needs train, whose outputs changed since it ran"):
        in_process(run, ["merge"])


def test_retraining_reruns_what_was_made_from_it(run: RunDir) -> None:
    """`train --force` makes other weights: merge must not say "up to date" (it did)."""
    in_process(run)
    (run.root / "faults.json").write_text(json.dumps({"fill": 9}))
    in_process(run, ["train"], force=True)
    (run.root / "faults.json").unlink()
    state, lines = in_process(run)
    ran = {ln.split(":")[0].split()[-1] for ln in lines if ": start" in ln}
    assert {"merge", "gguf", "eval", "push"} <= ran, lines
    assert state["merge"]["status"] == "done"


# ------------------------------------------------------------------ SIGKILL everywhere


@pytest.mark.parametrize("step", STEP_NAMES)
@pytest.mark.parametrize("at", ["start", "inside"])
def test_sigkill_loses_nothing_and_marks_nothing_broken_done(run: RunDir, step: str, at: str) -> None:
    in_process(run)  # a finished pipeline, then `step` runs again and is killed
    recorded_before = load_state(run)["steps"]
    kill_at(run, step, at, names=tuple(STEP_NAMES), version=1)
    after = load_state(run)["steps"]
    assert after[step]["status"] == "running" and not after[step].get("recorded")  # never "done" with a cut file
    for name in STEP_NAMES[: STEP_NAMES.index(step)]:
        assert after[name] == recorded_before[name]  # earlier steps: untouched, still done as recorded
    for entry in after.values():  # whatever still says "done" is whole and as recorded
        if entry.get("status") == "done":
            assert out.verify(entry["recorded"], run.root) == []
    state, lines = in_process(run, STEP_NAMES)
    assert all(state[n]["status"] == "done" and out.verify(state[n]["recorded"], run.root) == [] for n in STEP_NAMES)
    redone = {ln.split(":")[0].split()[-1] for ln in lines if ": start" in ln}
    assert step in redone and not redone & set(STEP_NAMES[: STEP_NAMES.index(step)]), lines


@pytest.mark.parametrize("step", STEP_NAMES)
def test_sigkill_at_the_boundary_before_a_step(run: RunDir, step: str) -> None:
    """Killed between the previous step's "done" and this one's first write."""
    kill_at(run, step, "start", names=tuple(STEP_NAMES))
    state = load_state(run)["steps"]
    assert state[step]["status"] == "running" and not state[step].get("recorded")
    for name in STEP_NAMES[: STEP_NAMES.index(step)]:
        assert state[name]["status"] == "done" and out.verify(state[name]["recorded"], run.root) == []
    _, lines = in_process(run, STEP_NAMES)
    skipped = {ln.split(":")[0].split()[-1] for ln in lines if "skipped" in ln}
    assert set(STEP_NAMES[: STEP_NAMES.index(step)]) <= skipped, lines  # done work is not redone


# ------------------------------------------------------------------ children die with their runner


def test_a_child_dies_with_a_runner_killed_by_sigkill(tmp_path: Path) -> None:
    """A runner killed by SIGKILL left its trainer running (its own session); a second runner
    then trained on the same checkpoints. The guard now takes the child's group down with it."""
    ready, pidfile = tmp_path / "ready", tmp_path / "pid"
    child = tmp_path / "child.py"
    child.write_text(f"import pathlib, time\npathlib.Path({str(ready)!r}).touch()\ntime.sleep(600)\n")
    parent = tmp_path / "runner.py"
    parent.write_text(
        "import sys\nfrom pathlib import Path\nfrom axowrap.run.child import run_child\n"
        f"run_child([sys.executable, {str(child)!r}], log=None, "
        f"on_start=lambda pid: Path({str(pidfile)!r}).write_text(str(pid)))\n"
    )
    proc = subprocess.Popen([sys.executable, str(parent)])
    try:
        wait_for(lambda: ready.exists() or proc.poll() is not None, "the child to start")
        assert proc.poll() is None
        group = int(pidfile.read_text())
        os.killpg(group, 0)  # alive
        proc.kill()
        proc.wait()

        def gone() -> bool:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(gone, "the child's process group to die with its runner", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_resume_refuses_while_the_recorded_child_still_runs(run: RunDir) -> None:
    from axowrap.run import state as st

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        st.update_step(run, "train", status=st.RUNNING, fingerprint="x", pid=child.pid)
        with pytest.raises(AxowrapError, match=rf"step train is still running as process group {child.pid}"):
            in_process(run, ["train"])
    finally:
        child.kill()
        child.wait()
    state, _ = in_process(run, ["train"])
    assert state["train"]["status"] == "done"


# ------------------------------------------------------------------ nothing is deleted


def test_supersede_moves_and_never_overwrites(tmp_path: Path) -> None:
    a = tmp_path / "adapter"
    a.mkdir()
    (a / "mine.txt").write_text("the user's file")
    first = out.supersede(tmp_path, a)
    a.mkdir()
    (a / "mine.txt").write_text("another")
    second = out.supersede(tmp_path, a)
    assert first != second and first.parent.parent == tmp_path / "superseded"
    assert (first / "mine.txt").read_text() == "the user's file" and (second / "mine.txt").read_text() == "another"
