"""Real data-parallel training on CPU through axowrap's launch path (gloo), and the node
environment check. An exit code proves nothing here (a process that trains alone exits 0
too): the tests assert world size 2, different first batches per rank, one summary, one adapter.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_spec

from axowrap.run.launch import launch_argv
from axowrap.run.pipeline import prepare_run
from axowrap.validate import load_spec

MARK = re.compile(r"axowrap-ddp rank=(\d) world_size=(\d) backend=(\S+) first_batch=([0-9a-f]{16}|none)")


def free_port() -> int:
    # Two consecutive free ports: training and the environment exchange (port + 1).
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def prepared(folder: Path, model: Path, compute: dict):
    spec_path = tiny_spec(folder, model)
    data = yaml.safe_load(spec_path.read_text())
    data["training"].update(max_steps=4, save_steps=2)
    data["compute"] = compute
    data.pop("export", None)
    spec_path.write_text(yaml.safe_dump(data))
    run = prepare_run(spec_path, folder / "runs")
    return run, load_spec(spec_path).data


def child_env(env: dict[str, str]) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, **env, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def assert_data_parallel(text: str, adapter: Path, *, summaries: int = 1) -> None:
    ranks = {int(m[0]): m for m in MARK.findall(text)}
    assert sorted(ranks) == [0, 1], text[-3000:]
    assert {m[1] for m in ranks.values()} == {"2"}  # world size 2 seen by both ranks
    assert all("gloo" in m[2] for m in ranks.values())
    assert ranks[0][3] != ranks[1][3]  # each rank got its own first batch
    assert text.count("'train_runtime'") == summaries  # one final summary per node (local rank 0)
    assert (adapter / "adapter_model.safetensors").is_file()  # one adapter, saved once
    assert sorted(p.name for p in adapter.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]


@pytest.mark.slow
def test_two_processes_train_data_parallel_on_cpu(tiny_model: Path, tmp_path: Path) -> None:
    run, spec = prepared(tmp_path, tiny_model, {"target": "cpu", "gpus_per_node": 2})
    argv, env = launch_argv(spec, run.config.resolve(), main_port=free_port())
    assert env["ACCELERATE_USE_CPU"] == "true"
    proc = subprocess.run(argv, cwd=run.root, env=child_env(env), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert_data_parallel(proc.stdout + proc.stderr, run.adapter)


@pytest.mark.slow
def test_two_simulated_nodes_train_together(tiny_model: Path, tmp_path: Path) -> None:
    run, spec = prepared(tmp_path, tiny_model, {"target": "cpu", "nodes": 2})
    port = free_port()
    procs = []
    for rank in (0, 1):  # two launches differing only in machine_rank
        argv, env = launch_argv(spec, run.config.resolve(), machine_rank=rank, main_ip="127.0.0.1", main_port=port)
        assert argv[argv.index("--machine_rank") + 1] == str(rank)
        procs.append(
            subprocess.Popen(
                argv, cwd=run.root, env=child_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
    for rank, out in enumerate(outs):
        assert f"axowrap-envcheck: node {rank}/2: environments match" in out
    # rank 0 prints the summary; node 1's local main may print its own (Trainer's log_on_each_node)
    assert outs[0].count("'train_runtime'") == 1 and outs[1].count("'train_runtime'") <= 1
    assert_data_parallel("".join(outs), run.adapter, summaries=1 + outs[1].count("'train_runtime'"))


def shadowed_package(folder: Path, name: str, version: str) -> Path:
    """A site folder whose dist-info makes `name` report `version` (a node with another install)."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return folder


@pytest.mark.axolotl
@pytest.mark.parametrize("differ", [False, True])
def test_envcheck_refuses_when_a_node_differs(tmp_path: Path, differ: bool) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "data" / "train.jsonl").write_text('{"a": 1}\n')
    (run_dir / "axolotl.yaml").write_text("base_model: x\n")
    port = free_port()
    marker = tmp_path / "started"
    procs = []
    for rank in (0, 1):
        env = dict(os.environ)
        if differ and rank == 1:
            env["PYTHONPATH"] = str(shadowed_package(tmp_path / "site", "peft", "0.0.1"))
        argv = [
            sys.executable,
            "-m",
            "axowrap",
            "_envcheck",
            str(run_dir),
            "--rank",
            str(rank),
            "--nodes",
            "2",
            "--main-ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--timeout",
            "120",
            "--",
            sys.executable,
            "-c",
            f"open({str(marker) + str(rank)!r}, 'w')",
        ]
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    errs = [p.communicate(timeout=180)[1] for p in procs]
    codes = [p.returncode for p in procs]
    started = [Path(f"{marker}{r}").exists() for r in (0, 1)]
    if not differ:
        assert codes == [0, 0] and started == [True, True], errs
        return
    assert codes == [1, 1] and started == [False, False], errs  # nobody starts training
    assert "the 2 nodes differ; refusing to start training" in errs[0]
    assert re.search(r"peft: node 0 \S+, node 1 0\.0\.1", errs[0]), errs[0]
    assert "rank 0 shows the differences" in errs[1]
