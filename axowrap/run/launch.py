"""The argv and environment that start Axolotl training for a spec.

`launch_argv` is what the train step runs, as a child process (never exec). One process
(CPU or one GPU) runs `accelerate launch --num_processes 1`; more (gpus_per_node x nodes)
run `accelerate launch --config_file accelerate.yaml` with this node's rank, the main
node's address and port, after the node environment check (`axowrap _envcheck`, axowrap.jobs.envcheck)
when there is more than one node. Those three come from the arguments, else from
AXOWRAP_MACHINE_RANK / AXOWRAP_MAIN_PROCESS_IP / AXOWRAP_MAIN_PROCESS_PORT (what a job
script sets on each node), else rank 0 on 127.0.0.1:29500.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from axowrap.distributed.accelerate_config import DEFAULT_PORT, FILE_NAME, accelerate_yaml
from axowrap.distributed.strategy import layout, support_files

# The training process's module: Axolotl's `axolotl.cli.train`, run by axowrap/run/train_main.py
# after its imports are frozen out of the garbage collector (the launches here and the job files).
TRAINER_MODULE = "axowrap.run.train_main"
RANK_ENV, IP_ENV, PORT_ENV = "AXOWRAP_MACHINE_RANK", "AXOWRAP_MAIN_PROCESS_IP", "AXOWRAP_MAIN_PROCESS_PORT"


def write_launch_files(spec: dict[str, Any], folder: Path) -> Path:
    """Write accelerate.yaml and the files the config names (ZeRO JSON) into `folder`."""
    from axowrap.yamlio import atomic_write

    for name, text in support_files(spec).items():
        atomic_write(folder / name, text)
    path = folder / FILE_NAME
    atomic_write(path, accelerate_yaml(layout(spec)))
    return path


def launch_argv(
    spec: dict[str, Any],
    config_path: Path,
    *,
    machine_rank: int | None = None,
    main_ip: str | None = None,
    main_port: int | None = None,
) -> tuple[list[str], dict[str, str]]:
    """(argv, env changes) for `accelerate launch -m axowrap.run.train_main CONFIG` (Axolotl's
    `axolotl.cli.train`, see TRAINER_MODULE).

    When the config names a ZeRO JSON, or for more than one process, this also writes it
    (and accelerate.yaml) next to CONFIG: the run directory, where the train step runs Axolotl.
    """
    bindir = Path(sys.executable).parent
    accelerate = str(bindir / "accelerate")
    lay = layout(spec)
    env: dict[str, str] = {}
    if not lay.distributed:
        if support_files(spec):  # ZeRO with CPU offload on one GPU still needs its JSON
            write_launch_files(spec, config_path.parent)
        argv = [
            accelerate,
            "launch",
            "--num_processes",
            "1",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
        ]
        if lay.is_cpu:
            argv.append("--cpu")
        return [*argv, "-m", TRAINER_MODULE, str(config_path)], env
    acc_config = write_launch_files(spec, config_path.parent)
    rank = machine_rank if machine_rank is not None else int(os.environ.get(RANK_ENV, "0"))
    ip = main_ip or os.environ.get(IP_ENV, "127.0.0.1")
    port = main_port if main_port is not None else int(os.environ.get(PORT_ENV, str(DEFAULT_PORT)))
    check: list[str] = []
    if lay.nodes > 1:
        # Every node reports its environment first; all refuse to start when they differ.
        check = [
            sys.executable,
            "-m",
            "axowrap",
            "_envcheck",
            str(config_path.parent),
            "--rank",
            str(rank),
            "--nodes",
            str(lay.nodes),
            "--main-ip",
            ip,
            "--port",
            str(port + 1),
            "--",
        ]
    argv = [
        *check,
        accelerate,
        "launch",
        "--config_file",
        str(acc_config),
        "--machine_rank",
        str(rank),
        "--main_process_ip",
        ip,
        "--main_process_port",
        str(port),
        "-m",
        TRAINER_MODULE,
        str(config_path),
    ]
    if lay.is_cpu:
        # gloo DDP on CPU (see axowrap.distributed.cpu_ddp): without this each process trains alone.
        env["ACCELERATE_USE_CPU"] = "true"
    return argv, env
