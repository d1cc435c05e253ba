"""`run` fails fast on the machine it is on: a GPU target on a machine without one, too few or
too small GPUs, a base model neither cached nor reachable. One line each, with the fix, in
seconds and before any training process starts; `run --target cpu` renders for this machine."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path

import pytest
from conftest import tiny_spec, write
from helpers import run_cli

from axowrap.run.pipeline import run_dir_for
from axowrap.run.preflight import gpus_here, machine_problems
from axowrap.run.state import load_state
from axowrap.targets import get_target

H100 = {"name": "NVIDIA H100 80GB HBM3", "memory_gib": 79.6, "capability": 9.0}
T4 = {"name": "Tesla T4", "memory_gib": 15.0, "capability": 7.5}


def fake_nvidia_smi(folder: Path, rows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An `nvidia-smi` on PATH that answers `--query-gpu=... --format=csv,noheader` as the real one."""
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\n" + "".join(f"echo '{r}'\n" for r in rows))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_gpus_are_read_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvidia_smi(tmp_path, ["NVIDIA A10G, 23028 MiB, 8.6", "NVIDIA A10G, 23028 MiB, 8.6"], monkeypatch)
    assert gpus_here() == [{"name": "NVIDIA A10G", "memory_gib": 23028 / 1024, "capability": 8.6}] * 2


def test_machine_problems() -> None:
    assert machine_problems(get_target("cpu"), []) == []
    assert machine_problems(get_target("a10g-24gb"), [H100]) == []  # a bigger GPU runs it
    (only,) = machine_problems(get_target("a10g-24gb"), [])
    assert only[0].startswith("this machine has no CUDA GPU (nvidia-smi finds none), but the spec targets a10g-24gb x1")
    assert "--target cpu" in only[1]
    assert machine_problems(get_target("h100-80gb", gpus=4), [H100, H100])[0][0] == (
        "the spec targets 4 GPU(s) per node, this machine has 2"
    )
    small = machine_problems(get_target("a100-80gb"), [T4])
    assert [p for p, _ in small] == [
        "the config was planned for 80 GB per GPU (a100-80gb); this machine's Tesla T4 has 15 GiB: it would run out of memory",
        "the config uses bf16 and FlashAttention for a100-80gb (compute capability 8.0); this machine's Tesla T4 is 7.5 (no bf16)",
    ]


@pytest.mark.skipif(bool(gpus_here()), reason="this check is about a machine without a GPU")
def test_a_gpu_target_without_a_gpu_fails_in_seconds_before_any_child(tiny_model: Path, tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "spec", tiny_model)
    spec.write_text(spec.read_text().replace("compute: {target: cpu}", "compute: {target: a10g-24gb}"))
    runs = tmp_path / "runs"
    started = time.monotonic()
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs))
    assert time.monotonic() - started < 30
    assert res.code == 1 and "Traceback" not in res.err
    assert (
        "error: cannot train here: this machine has no CUDA GPU (nvidia-smi finds none), but the spec targets a10g-24gb x1"
        in res.err
    )
    assert "hint: `axowrap run SPEC --target cpu` to try it here" in res.err
    run = run_dir_for(spec, "tiny", runs)
    assert load_state(run)["steps"]["train"]["status"] == "failed"
    assert not run.log("train").exists()  # no training process was started
    # --target cpu: rendered and run for this machine instead
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs), "--target", "cpu", "--dry-run")
    assert res.code == 0, res.err
    assert " --cpu -m axowrap.run.train_main " in res.out
    assert json.loads(run.manifest.read_text())["spec"]["effective"]["compute"]["target"] == "cpu"


def test_target_cpu_rechecks_the_spec(workdir: Path) -> None:
    spec = workdir / "examples" / "sql.yaml"
    spec.write_text(spec.read_text().replace("method: lora", "method: qlora"))
    res = run_cli("run", str(spec), "--target", "cpu", "--dry-run")
    assert res.code == 1 and "compute" not in res.err.split("error:")[0]
    assert "qlora" in res.out + res.err


def test_a_model_neither_cached_nor_reachable(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    spec = tiny_spec(tmp_path / "spec", tiny_model)
    spec.write_text(spec.read_text().replace(f"base_model: {tiny_model}", "base_model: org/never-downloaded"))
    runs = tmp_path / "runs"
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs))  # HF_HUB_OFFLINE=1 (conftest)
    assert res.code == 1
    assert (
        "error: cannot train here: base model 'org/never-downloaded' (main) is not in the Hugging Face cache "
        f"({tmp_path / 'hf-home' / 'hub'}) and HF_HUB_OFFLINE is set" in res.err
    )
    assert (
        "hint: download it once where the Hub is reachable: `hf download org/never-downloaded` (same HF_HOME)"
        in res.err
    )
    with socket.socket() as s:  # online, but the Hub does not answer
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", dead)
    res = run_cli("run", str(spec), "--steps", "train", "--runs-dir", str(runs))
    assert res.code == 1
    assert f"base model 'org/never-downloaded' (main) cannot be fetched from {dead} (unreachable: " in res.err
    # cached: fine, offline or not
    snapshot = tmp_path / "hf-home" / "hub" / "models--org--never-downloaded" / "snapshots" / ("c" * 40)
    write(snapshot / "config.json", "{}")
    write(snapshot.parent.parent / "refs" / "main", "c" * 40)
    from axowrap.run.preflight import model_problem

    assert model_problem("org/never-downloaded", None, None) is None
